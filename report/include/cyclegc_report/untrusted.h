// Input nobody vouches for: a report, a suppressions file, an option's value. Such a file is
// opened without blocking and read only when it is a regular file of bounded size (a FIFO, a
// device or a directory named by mistake or by an attacker must neither hang nor flood the
// reader), and such text is echoed to a terminal only with its control and non-ASCII bytes
// escaped.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cyclegc::report {

// `text` with every byte outside printable ASCII written as \xNN (and a backslash as \\).
std::string printable(absl::string_view text);

// A descriptor of `path` for reading, which must be a regular file (its status in `st` when
// given). Fails with NotFound when it cannot be opened and FailedPrecondition when it is not a
// regular file; each message names the path (printable). The caller closes the descriptor.
absl::StatusOr<int> open_regular_file(const std::string& path, struct stat* st = nullptr);

// The whole of `path`, which must be a regular file of at most `limit` bytes. Fails with
// NotFound when it cannot be opened, FailedPrecondition when it is not a regular file,
// ResourceExhausted when it is larger; each message names the path (printable).
absl::StatusOr<std::string> read_regular_file(const std::string& path, std::size_t limit);

}  // namespace cyclegc::report
