#include "cyclegc_report/suppressions.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cyclegc_report/untrusted.h"

namespace cyclegc::report {

absl::StatusOr<Suppressions> parse_suppressions(const std::string& text) {
  Suppressions s;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const std::size_t colon = line.find(':');
    const absl::string_view kind = line.substr(0, colon);
    const std::string value(colon == absl::string_view::npos ? "" : line.substr(colon + 1));
    if (colon == absl::string_view::npos || value.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": expected type:NAME, frame:TEXT or shape:ID"));
    }
    if (kind == "type") {
      s.types.push_back(value);
    } else if (kind == "frame") {
      s.frames.push_back(value);
    } else if (kind == "shape") {
      s.shapes.push_back(value);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": unknown kind '",
                                                     printable(kind), "' (type, frame or shape)"));
    }
  }
  return s;
}

absl::StatusOr<Suppressions> load_suppressions(const std::string& path) {
  constexpr std::size_t kLimit = 1 << 20;  // a suppressions file is lines written by hand
  auto text = read_regular_file(path, kLimit);
  if (!text.ok()) return text.status();
  auto parsed = parse_suppressions(*text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(printable(path), ": ", parsed.status().message()));
  }
  return parsed;
}

std::size_t apply_suppressions(const Suppressions& s, Report& r) {
  if (s.empty()) return 0;
  absl::flat_hash_map<int, std::string> shape_of;
  for (const auto& c : r.cycles) {
    for (int m : c.members) shape_of[m] = c.shape;
  }
  std::size_t marked = 0;
  for (auto& o : r.objects) {
    bool match = false;
    for (const auto& t : s.types) match |= o.type == t;
    if (auto it = shape_of.find(o.id); it != shape_of.end()) {
      for (const auto& shape : s.shapes) match |= it->second == shape;
    }
    if (o.stack >= 0 && o.stack < static_cast<int>(r.stacks.size())) {
      for (const auto& f : r.stacks[o.stack].frames) {
        for (const auto& text : s.frames) {
          match |= absl::StrContains(f.function, text) || absl::StrContains(f.file, text);
        }
      }
    }
    if (match && !o.suppressed) {
      o.suppressed = true;
      ++marked;
    }
  }
  return marked;
}

}  // namespace cyclegc::report
