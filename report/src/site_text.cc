// What summaries, baselines and leak messages call an allocation site (report.h).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cyclegc_report/report.h"

namespace cyclegc::report {

std::string site_text(const Frame& f) {
  std::string function = f.function;
  if (absl::EndsWith(function, " const")) function.resize(function.size() - 6);
  if (!function.empty() && function.back() == ')') {  // cut the parameter list at its '('
    int depth = 0;
    for (std::size_t i = function.size(); i-- > 0;) {
      if (function[i] == ')') ++depth;
      if (function[i] == '(' && --depth == 0) {
        function.resize(i);
        break;
      }
    }
  }
  const std::string file = f.file.substr(f.file.rfind('/') + 1);
  return absl::StrCat(function.empty() ? "??" : function,
                      file.empty() ? "" : absl::StrCat(" (", file, ":", f.line, ")"));
}

}  // namespace cyclegc::report
