// What summaries, baselines and leak messages call an allocation site, and the name of the
// function a frame is in (report.h).
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cyclegc_report/report.h"

namespace cyclegc::report {

std::string function_name(absl::string_view function) {
  // GCC's copies of a function ("f(int) [clone .constprop.0] [clone .isra.0]") are that function.
  while (absl::EndsWith(function, "]")) {
    const std::size_t clone = function.rfind(" [clone ");
    if (clone == absl::string_view::npos) break;
    function = function.substr(0, clone);
  }
  if (absl::EndsWith(function, " const")) function.remove_suffix(6);
  if (!function.empty() && function.back() == ')') {  // cut the parameter list at its '('
    int depth = 0;
    for (std::size_t i = function.size(); i-- > 0;) {
      if (function[i] == ')') ++depth;
      if (function[i] == '(' && --depth == 0) {
        function = function.substr(0, i);
        break;
      }
    }
  }
  // A function template's name follows its return type ("cyclegc::Ref<Shape> make<Circle>"):
  // the name is what follows the last space outside brackets. An operator's own symbols ("<",
  // "()", "bool" after a space) are left out of the search; "(anonymous namespace)" holds its
  // space inside brackets.
  const std::size_t op = function.rfind("operator");
  int depth = 0;
  for (std::size_t i = op == absl::string_view::npos ? function.size() : op; i-- > 0;) {
    const char c = function[i];
    if (c == '>' || c == ')' || c == ']' || c == '}') ++depth;
    if ((c == '<' || c == '(' || c == '[' || c == '{') && depth > 0) --depth;
    if (c == ' ' && depth == 0) return std::string(function.substr(i + 1));
  }
  return std::string(function);
}

std::string readable_signature(absl::string_view function) {
  return absl::StrReplaceAll(
      function,
      {{"std::__cxx11::basic_string<char, std::char_traits<char>, std::allocator<char> >",
        "std::string"},
       {"std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string"},
       {"std::basic_string_view<char, std::char_traits<char> >", "std::string_view"},
       {"std::__cxx11::", "std::"}});
}

std::string site_text(const Frame& f) {
  const std::string function = function_name(f.function);
  const std::string file = f.file.substr(f.file.rfind('/') + 1);
  return absl::StrCat(function.empty() ? "??" : function,
                      file.empty() ? "" : absl::StrCat(" (", file, ":", f.line, ")"));
}

std::string field_of(absl::string_view type, absl::string_view label) {
  return absl::StrCat(type, "::", label.substr(0, label.find('[')));
}

}  // namespace cyclegc::report
