#include "cyclegc_report/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cyclegc_report/untrusted.h"

namespace cyclegc::report {

absl::Status write_file_atomically(const std::string& path, const OutputFile& how,
                                   absl::FunctionRef<void(Sink)> produce) {
  const std::string named =
      absl::StrCat(how.what, how.what.empty() ? "" : " ", "'", printable(path), "'");
  struct stat st {};
  const bool other = lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  if (other && !how.in_place) {
    return absl::FailedPreconditionError(
        absl::StrCat(named, " is not a regular file; it is left as it is"));
  }
  const std::string target = other ? path : absl::StrCat(path, ".tmp.", getpid());
  auto failure = [&](const char* doing, int error) {
    if (!other) unlink(target.c_str());
    return absl::UnavailableError(absl::StrCat(doing, " ", named, ": ", std::strerror(error)));
  };
  int fd;
  if (other) {
    fd = open(target.c_str(), O_WRONLY | O_TRUNC | O_NOCTTY | O_CLOEXEC);
  } else {
    constexpr int kNew = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    fd = open(target.c_str(), kNew, how.mode);
    if (fd < 0 && errno == EEXIST) {  // left over by an earlier process with the same pid
      unlink(target.c_str());
      fd = open(target.c_str(), kNew, how.mode);
    }
  }
  if (fd < 0) return failure("cannot create", errno);
  int error = 0;  // the first failure; what follows it is not written
  produce([&](std::string_view piece) {
    for (std::size_t done = 0; error == 0 && done < piece.size();) {
      const ssize_t n = write(fd, piece.data() + done, piece.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) error = n < 0 ? errno : ENOSPC;
      if (n > 0) done += static_cast<std::size_t>(n);
    }
  });
  // A device or FIFO has nothing to sync or rename; a new file is synced before it replaces the
  // old one.
  if (error == 0 && !other && fsync(fd) != 0) error = errno;
  if (close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && !other && rename(target.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) return failure("cannot write", error);
  return absl::OkStatus();
}

}  // namespace cyclegc::report
