#include "json_views.h"

namespace cyclegc::report {

using nlohmann::json;

json fixes_json(const std::vector<FixHint>& hints) {
  json fixes = json::array();
  for (const FixHint& h : hints) {
    fixes.push_back({{"fields", h.fields},
                     {"cycles", h.cycles},
                     {"frees_objects", h.freed.objects.size()},
                     {"frees_bytes", h.freed.bytes}});
  }
  return fixes;
}

json edge_json(const Analysis& a, const Edge& e) {
  return {{"from", e.from}, {"to", e.to}, {"label", e.label}, {"text", a.describe(e)}};
}

json stack_json(const Report& r, const Object& o) {
  json frames = json::array();
  if (o.stack < 0) return frames;
  for (const Frame& f : r.stacks[o.stack].frames) {
    frames.push_back(
        {{"function", readable_signature(f.function)}, {"file", f.file}, {"line", f.line}});
  }
  return frames;
}

}  // namespace cyclegc::report
