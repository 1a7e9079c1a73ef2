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
  for (const Chain& c : r.chains) chain_index_.emplace(c.object, &c);
}

const Chain* Analysis::chain(int id) const {
  auto it = chain_index_.find(id);
  return it == chain_index_.end() ? nullptr : it->second;
}

namespace {

// The path once around `c` from `from` back to it, breadth-first over the cycle's edges.
std::vector<Edge> around_cycle(const Cycle& c, int from) {
  std::map<int, std::vector<const Edge*>> out;
  for (const Edge& e : c.edges) out[e.from].push_back(&e);
  std::map<int, const Edge*> via;
  std::deque<int> queue{from};
  while (!queue.empty()) {
    const int v = queue.front();
    queue.pop_front();
    for (const Edge* e : out[v]) {
      if (e->to == from) {
        std::vector<Edge> path{*e};
        for (int w = v; w != from; w = via[w]->from) path.push_back(*via[w]);
        std::reverse(path.begin(), path.end());
        return path;
      }
      if (via.emplace(e->to, e).second) queue.push_back(e->to);
    }
  }
  return {};
}

}  // namespace

std::vector<Edge> Analysis::chain_path(int id, std::size_t max_hops, std::size_t* elided) const {
  std::vector<Edge> path;  // nearest the object first, reversed at the end
  std::size_t total = 0;
  auto add = [&](const Edge& e) {
    ++total;
    if (path.size() < max_hops) path.push_back(e);
  };
  const Chain* c = chain(id);
  if (c && c->cycle >= 0 && c->cycle < static_cast<int>(r_.cycles.size())) {
    auto around = around_cycle(r_.cycles[c->cycle], id);
    std::reverse(around.begin(), around.end());
    for (const Edge& e : around) add(e);
  } else if (c && c->hops.size() > 1) {
    for (auto it = c->hops.rbegin(); it != c->hops.rend(); ++it) add(*it);
  } else {
    // Hop by hop; an untrusted report may loop, so no object is visited twice.
    std::set<int> seen{id};
    while (c && c->cycle < 0 && c->hops.size() == 1 && c->hops[0].to == id) {
      add(c->hops[0]);
      id = c->hops[0].from;
      if (!seen.insert(id).second) break;
      c = chain(id);
    }
  }
  std::reverse(path.begin(), path.end());
  if (elided) *elided = total - path.size();
  return path;
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
