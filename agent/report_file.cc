#include "report_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "cyclegc_report/untrusted.h"

namespace cyclegc::agent {

absl::Status write_file_atomically(const std::string& path, absl::FunctionRef<void(Sink)> produce) {
  // Only a regular file is replaced: a device (/dev/null, even for root), a FIFO, a link (such
  // as /dev/stdout) or a directory at the path stays what it is.
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "report '", report::printable(path), "' is not a regular file; it is left as it is"));
  }
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  auto failure = [&](const char* what) {
    absl::Status status =
        absl::UnavailableError(absl::StrCat(what, " '", path, "': ", std::strerror(errno)));
    unlink(tmp.c_str());
    return status;
  };
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 && errno == EEXIST) {  // left over by an earlier process with the same pid
    unlink(tmp.c_str());
    fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  }
  if (fd < 0)
    return absl::UnavailableError(
        absl::StrCat("cannot create report '", path, "': ", std::strerror(errno)));
  int write_errno = 0;  // the first failure; what follows it is not written
  produce([&](std::string_view piece) {
    for (std::size_t done = 0; write_errno == 0 && done < piece.size();) {
      const ssize_t n = write(fd, piece.data() + done, piece.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) write_errno = n < 0 ? errno : ENOSPC;
      if (n > 0) done += static_cast<std::size_t>(n);
    }
  });
  if (write_errno != 0) {
    close(fd);
    errno = write_errno;
    return failure("cannot write report");
  }
  if (fsync(fd) != 0 || close(fd) != 0) return failure("cannot write report");
  if (rename(tmp.c_str(), path.c_str()) != 0) return failure("cannot write report");
  return absl::OkStatus();
}

absl::Status write_file_atomically(const std::string& path, std::string_view contents) {
  return write_file_atomically(path, [&](Sink sink) { sink(contents); });
}

}  // namespace cyclegc::agent
