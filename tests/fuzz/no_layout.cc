// The fuzzer's stand-in for Graphviz's layout: laying out is Graphviz's own code (slow, and
// with caches LeakSanitizer calls leaks). What is ours, the DOT text a hostile report's labels go
// into, the fuzzer parses back with Graphviz's own parser instead (report_fuzzer.cc).
#include "../../report/tool/graph_layout.h"

namespace cyclegc::report {

absl::StatusOr<std::string> layout_svg(const std::string&) {
  return absl::UnavailableError("not laid out while fuzzing");
}

}  // namespace cyclegc::report
