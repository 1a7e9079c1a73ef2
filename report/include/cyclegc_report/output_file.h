// Writing a file so that readers never see half of one and nobody can redirect it: the text
// goes to a new temporary file beside the target, created with O_EXCL|O_NOFOLLOW (a link planted
// there makes it fail instead of being followed), and is renamed over the target only once all
// of it is written and synced — a full disk leaves the old file as it was. What is at the path
// and is not a regular file (a device such as /dev/null or /dev/full, a FIFO, a link such as
// /dev/stdout, a directory) is either left as it is or written in place, as the caller says.
// The agent writes its reports and cyclegc-report its baselines and pages through it.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace cyclegc::report {

struct OutputFile {
  std::string what;       // named in messages: "cannot write report '...'"; may be empty
  mode_t mode = 0644;     // of a file made new
  bool in_place = false;  // write a path that is not a regular file in place, not refuse it
};

// `produce` writes the contents by calling its sink, piece by piece: the text is never needed
// whole.
using Sink = absl::FunctionRef<void(std::string_view)>;
absl::Status write_file_atomically(const std::string& path, const OutputFile& how,
                                   absl::FunctionRef<void(Sink)> produce);

}  // namespace cyclegc::report
