// Writing a report so that readers never see half of one and nobody can redirect it: the text
// goes to a new temporary file beside the target, created 0600 with O_EXCL|O_NOFOLLOW (a link
// planted there makes it fail instead of being followed), and is renamed over the target — only
// when the target is a regular file or nothing: a link, a device (/dev/null), a FIFO or a
// directory there is left as it is, and the write fails with one line.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace cyclegc::agent {

absl::Status write_file_atomically(const std::string& path, const std::string& contents);

}  // namespace cyclegc::agent
