// Writing a report so that readers never see half of one and nobody can redirect it: the text
// goes to a new temporary file beside the target, created 0600 with O_EXCL|O_NOFOLLOW (a link
// planted there makes it fail instead of being followed), and is renamed over the target — only
// when the target is a regular file or nothing: a link, a device (/dev/null), a FIFO or a
// directory there is left as it is, and the write fails with one line.
#pragma once

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace cyclegc::agent {

// `produce` writes the contents by calling its sink, piece by piece: a report is never held
// whole as text.
using Sink = absl::FunctionRef<void(std::string_view)>;
absl::Status write_file_atomically(const std::string& path, absl::FunctionRef<void(Sink)> produce);
absl::Status write_file_atomically(const std::string& path, std::string_view contents);

}  // namespace cyclegc::agent
