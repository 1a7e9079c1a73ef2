// Suppressions, one per line, as LeakSanitizer's: `type:NAME` (a type name), `frame:TEXT` (text
// in any allocation frame's function or file), `shape:FINGERPRINT` (a cycle's shape); `#` starts
// a comment. A suppressed object stays in the report, marked, and counts as no leak.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cyclegc_report/report.h"

namespace cyclegc::report {

struct Suppressions {
  std::vector<std::string> types, frames, shapes;
  bool empty() const { return types.empty() && frames.empty() && shapes.empty(); }
};

// Fails with the line number of the first line it cannot read.
absl::StatusOr<Suppressions> parse_suppressions(const std::string& text);
absl::StatusOr<Suppressions> load_suppressions(const std::string& path);
// Marks matching objects `suppressed`; returns how many it marked.
std::size_t apply_suppressions(const Suppressions& s, Report& r);

}  // namespace cyclegc::report
