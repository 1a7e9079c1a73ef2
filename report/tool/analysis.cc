#include "analysis.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"

namespace cyclegc::report {

Analysis::Analysis(const Report& r) : r_(r) {
  for (std::size_t i = 0; i < r.objects.size(); ++i) index_[r.objects[i].id] = i;
}

std::vector<int> Analysis::leaked() const {
  std::vector<int> out;
  for (const auto* list : {&r_.collectable, &r_.saved_garbage, &r_.uncollectable, &r_.untraced}) {
    for (int id : *list) {
      if (has_object(id) && !object(id).suppressed) out.push_back(id);
    }
  }
  return out;
}

std::vector<ShapeFinding> Analysis::shapes() const {
  std::map<std::string, ShapeFinding> by_shape;
  for (const Cycle& c : r_.cycles) {
    ShapeFinding& f = by_shape[c.shape];
    f.shape = c.shape;
    f.cycles.push_back(c.id);
    bool all_suppressed = true;
    for (int m : c.members) {
      if (!has_object(m)) continue;
      ++f.objects;
      f.bytes += object(m).size;
      all_suppressed &= object(m).suppressed;
    }
    f.suppressed = (f.cycles.size() == 1 || f.suppressed) && all_suppressed;
  }
  std::vector<ShapeFinding> out;
  for (auto& [shape, f] : by_shape) out.push_back(std::move(f));
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  return out;
}

std::string Analysis::site_of(const Object& o) const {
  if (o.stack < 0 || o.stack >= static_cast<int>(r_.stacks.size()) ||
      r_.stacks[o.stack].frames.empty()) {
    return "unknown";
  }
  return site_text(r_.stacks[o.stack].frames.front());
}

std::vector<SiteFinding> Analysis::sites() const {
  std::map<std::pair<std::string, std::string>, SiteFinding> by_site;
  for (int id : leaked()) {
    const Object& o = object(id);
    SiteFinding& f = by_site[{o.type, site_of(o)}];
    f.type = o.type;
    f.site = site_of(o);
    ++f.objects;
    f.bytes += o.size;
  }
  std::vector<SiteFinding> out;
  for (auto& [key, f] : by_site) out.push_back(std::move(f));
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.objects > b.objects; });
  return out;
}

Freed Analysis::freed_by_breaking(const Cycle& c) const {
  // The report's refcounts leave out garbage()'s references: as if garbage() had been cleared.
  std::map<int, long> count;
  std::map<int, std::vector<int>> out;
  for (const Object& o : r_.objects) count[o.id] = o.refcount;
  for (const Edge& e : r_.edges) out[e.from].push_back(e.to);
  Freed freed;
  std::deque<int> dying;
  auto drop = [&](int id) {
    if (count.count(id) && --count[id] == 0) dying.push_back(id);
  };
  drop(c.closing_edge.to);
  std::set<int> seen;
  while (!dying.empty()) {
    const int id = dying.front();
    dying.pop_front();
    if (!seen.insert(id).second) continue;
    freed.objects.push_back(id);
    freed.bytes += object(id).size;
    for (int to : out[id]) drop(to);
  }
  return freed;
}

std::optional<Target> Analysis::target(const std::string& text, bool cycles_allowed) const {
  const bool is_cycle = cycles_allowed && !text.empty() && text[0] == 'c';
  const char* digits = text.c_str() + (is_cycle ? 1 : 0);
  char* end = nullptr;
  const long id = std::strtol(digits, &end, 10);
  const bool found =
      *digits != '\0' && *end == '\0' && id >= 0 && id <= INT32_MAX &&
      (is_cycle ? id < static_cast<long>(r_.cycles.size()) : has_object(static_cast<int>(id)));
  if (!found) {
    std::fprintf(stderr, "cyclegc-report: no %s '%s' in the report\n",
                 is_cycle ? "cycle" : "object", text.c_str());
    return std::nullopt;
  }
  return Target{is_cycle, static_cast<int>(id)};
}

std::string Analysis::describe(int id) const {
  return has_object(id) ? object(id).label : absl::StrCat("#", id);
}

std::string Analysis::describe(const Edge& e) const {
  return absl::StrCat(describe(e.from), ".", e.label, " -> ", describe(e.to));
}

}  // namespace cyclegc::report
