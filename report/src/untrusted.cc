#include "cyclegc_report/untrusted.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cyclegc::report {

std::string printable(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  return out;
}

absl::StatusOr<int> open_regular_file(const std::string& path, struct stat* st) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one.
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open '", printable(path), "': ", std::strerror(errno)));
  }
  struct stat local {};
  if (st == nullptr) st = &local;
  if (fstat(fd, st) != 0 || !S_ISREG(st->st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat("'", printable(path), "' is not a regular file"));
  }
  return fd;
}

absl::StatusOr<std::string> read_regular_file(const std::string& path, std::size_t limit) {
  struct stat st {};
  const absl::StatusOr<int> opened = open_regular_file(path, &st);
  if (!opened.ok()) return opened.status();
  const int fd = *opened;
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  if (static_cast<std::size_t>(st.st_size) > limit) {
    return absl::ResourceExhaustedError(absl::StrCat("'", printable(path), "' is ", st.st_size,
                                                     " bytes, over the limit of ", limit));
  }
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::NotFoundError(
          absl::StrCat("cannot read '", printable(path), "': ", std::strerror(errno)));
    }
    if (n == 0) break;  // shrank while read: what is there
    done += static_cast<std::size_t>(n);
  }
  text.resize(done);
  return text;
}

}  // namespace cyclegc::report
