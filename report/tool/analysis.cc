#include "analysis.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace cyclegc::report {

// The status of a cycle no member of which is held from outside: it holds itself.
constexpr const char* kHeldByLeaks = "leaked: held only by leaked objects";

Analysis::Analysis(const Report& r)
    : r_(r), ids_(r.objects), chain_of_(r.objects.size()), out_begin_(r.objects.size() + 1) {
  for (const Chain& c : r.chains) {
    const std::ptrdiff_t at = ids_.find(c.object);
    if (at >= 0 && chain_of_[at] == nullptr) chain_of_[at] = &c;
  }
  for (const Stack& s : r.stacks) {
    site_of_stack_.push_back(s.frames.empty() ? "unknown" : site_text(s.frames.front()));
  }
  std::vector<std::size_t> from;  // each edge's source position, -1 when it names no object
  from.reserve(r.edges.size());
  for (const Edge& e : r.edges) {
    const std::ptrdiff_t f = ids_.find(e.from), t = ids_.find(e.to);
    from.push_back(f >= 0 && t >= 0 ? static_cast<std::size_t>(f) : SIZE_MAX);
    if (from.back() != SIZE_MAX) ++out_begin_[from.back() + 1];
  }
  for (std::size_t i = 1; i < out_begin_.size(); ++i) out_begin_[i] += out_begin_[i - 1];
  out_to_.resize(out_begin_.back());
  out_edge_.resize(out_begin_.back());
  std::vector<std::size_t> next(out_begin_.begin(), out_begin_.end() - 1);
  in_begin_.assign(r.objects.size() + 1, 0);
  for (std::size_t k = 0; k < r.edges.size(); ++k) {
    if (from[k] != SIZE_MAX) {
      out_edge_[next[from[k]]] = k;
      const std::size_t to = static_cast<std::size_t>(ids_.find(r.edges[k].to));
      out_to_[next[from[k]]++] = to;
      ++in_begin_[to + 1];
    }
  }
  for (std::size_t i = 1; i < in_begin_.size(); ++i) in_begin_[i] += in_begin_[i - 1];
  in_edge_.resize(in_begin_.back());
  next.assign(in_begin_.begin(), in_begin_.end() - 1);
  for (std::size_t k = 0; k < out_edge_.size(); ++k) {
    in_edge_[next[out_to_[k]]++] = out_edge_[k];
  }
  status_.assign(r.objects.size(), nullptr);
  for (const auto& [list, status] :
       {std::pair{&r.held_by_leaks, kHeldByLeaks}, std::pair{&r.collectable, "collectable"},
        std::pair{&r.saved_garbage, "saved garbage"},
        std::pair{&r.uncollectable, "uncollectable"}}) {
    for (int id : *list) {
      if (const std::ptrdiff_t at = ids_.find(id); at >= 0) status_[at] = status;
    }
  }
  field_of_edge_.reserve(r.edges.size());
  for (std::size_t k = 0; k < r.edges.size(); ++k) {
    field_of_edge_.push_back(
        from[k] == SIZE_MAX ? std::string() : field_of(r.objects[from[k]].type, r.edges[k].label));
  }
}

std::vector<const Edge*> Analysis::retainers(int id) const {
  std::vector<const Edge*> out;
  const std::ptrdiff_t at = ids_.find(id);
  if (at < 0) return out;
  for (std::size_t k = in_begin_[at]; k < in_begin_[at + 1]; ++k)
    out.push_back(&r_.edges[in_edge_[k]]);
  return out;
}

const Chain* Analysis::chain(int id) const {
  const std::ptrdiff_t at = ids_.find(id);
  return at < 0 ? nullptr : chain_of_[at];
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
  // A chain written whole (older reports) or around a cycle is as long as it is written.
  const Chain* c = chain(id);
  if (c && c->cycle >= 0 && c->cycle < static_cast<int>(r_.cycles.size())) {
    auto around = around_cycle(r_.cycles[c->cycle], id);
    std::reverse(around.begin(), around.end());
    for (const Edge& e : around) add(e);
  } else if (c && c->hops.size() > 1) {
    for (auto it = c->hops.rbegin(); it != c->hops.rend(); ++it) add(*it);
  } else if (const std::ptrdiff_t at = ids_.find(id); at >= 0) {
    // Hop by hop, at most max_hops of them; the rest are counted, not walked.
    const std::size_t length = hops_to_root(static_cast<std::size_t>(at));
    while (path.size() < std::min(max_hops, length)) {
      path.push_back(c->hops[0]);
      c = chain(c->hops[0].from);
    }
    total = length;
  }
  std::reverse(path.begin(), path.end());
  if (elided) *elided = total - path.size();
  return path;
}

std::size_t Analysis::hops_to_root(std::size_t at) const {
  constexpr std::int64_t kUnknown = -1, kOnWalk = -2;
  if (hops_to_root_.empty()) hops_to_root_.assign(r_.objects.size(), kUnknown);
  // The object a single-hop chain continues from, or -1 at a root.
  auto next = [&](std::size_t v) -> std::ptrdiff_t {
    const Chain* c = chain_of_[v];
    if (!c || c->cycle >= 0 || c->hops.size() != 1 || c->hops[0].to != r_.objects[v].id) return -1;
    return ids_.find(c->hops[0].from);
  };
  // Up the chain to an object whose length is known, a root, or — an untrusted report may
  // loop — an object already on this walk, whose hop in ends the chain.
  std::vector<std::size_t> walk;
  std::int64_t after = -1;  // the length beyond the walk's last object; -1: it is a root
  for (std::size_t v = at; hops_to_root_[v] != kOnWalk;) {
    if (hops_to_root_[v] >= 0) {
      after = hops_to_root_[v];
      break;
    }
    hops_to_root_[v] = kOnWalk;
    walk.push_back(v);
    const std::ptrdiff_t n = next(v);
    if (n < 0) break;
    if (hops_to_root_[n] == kOnWalk) {
      after = 0;
      break;
    }
    v = static_cast<std::size_t>(n);
  }
  for (std::size_t k = walk.size(); k-- > 0;) hops_to_root_[walk[k]] = ++after;
  return static_cast<std::size_t>(hops_to_root_[at]);
}

std::vector<int> Analysis::leaked() const {
  std::vector<int> out;
  for (const auto* list :
       {&r_.collectable, &r_.saved_garbage, &r_.uncollectable, &r_.untraced, &r_.held_by_leaks}) {
    for (int id : *list) {
      if (has_object(id) && !object(id).suppressed) out.push_back(id);
    }
  }
  return out;
}

std::vector<ShapeFinding> Analysis::shapes() const {
  std::map<std::pair<std::string, std::string>, ShapeFinding> by_shape;
  for (const Cycle& c : r_.cycles) {
    // A cycle is garbage as a whole or not at all; uncollectable wins (legacy finalizers).
    // A live cycle is held from outside when any member is; only when none is (every member in
    // held_by_leaks) is it its own leak.
    const char* status = nullptr;
    bool held_from_outside = false;
    for (int m : c.members) {
      const std::ptrdiff_t at = ids_.find(m);
      const char* s = at >= 0 ? status_[at] : nullptr;
      if (s == kHeldByLeaks) continue;
      held_from_outside |= s == nullptr;
      if (s && (!status || std::string_view(s) == "uncollectable")) status = s;
    }
    const std::string status_text = status              ? status
                                    : held_from_outside ? "live: held by untraced references"
                                                        : kHeldByLeaks;
    ShapeFinding& f = by_shape[{c.shape, status_text}];
    f.shape = c.shape;
    f.status = status_text;
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

std::vector<HolderFinding> Analysis::holders() const {
  std::map<std::pair<std::string, std::string>, HolderFinding> by_way;
  for (int id : r_.untraced) {
    if (!has_object(id)) continue;
    const Object& o = object(id);
    HolderFinding& f = by_way[{o.type, site_of(o)}];
    if (f.objects.empty()) {
      f.type = o.type;
      f.site = site_of(o);
      f.suppressed = true;
    }
    f.objects.push_back(id);
    f.bytes += o.size;
    f.suppressed &= o.suppressed;
  }
  std::vector<HolderFinding> out;
  for (auto& [way, f] : by_way) out.push_back(std::move(f));
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  return out;
}

std::string Analysis::site_of(const Object& o) const {
  if (o.stack < 0 || o.stack >= static_cast<int>(site_of_stack_.size())) return "unknown";
  return site_of_stack_[o.stack];
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
  // Only the counts that drop are kept, by position.
  absl::flat_hash_map<std::size_t, std::uint64_t> left;
  std::deque<std::size_t> dying;
  auto drop = [&](std::size_t at) {
    auto [it, fresh] = left.try_emplace(at, r_.objects[at].refcount);
    if (it->second > 0 && --it->second == 0) dying.push_back(at);
  };
  Freed freed;
  if (const std::ptrdiff_t to = ids_.find(c.closing_edge.to); to >= 0) drop(to);
  while (!dying.empty()) {
    const std::size_t at = dying.front();
    dying.pop_front();
    freed.objects.push_back(r_.objects[at].id);
    freed.bytes += r_.objects[at].size;
    for (std::size_t k = out_begin_[at]; k < out_begin_[at + 1]; ++k) drop(out_to_[k]);
  }
  return freed;
}

Freed Analysis::freed_when_dropped(const std::vector<int>& targets,
                                   const std::vector<std::string>& weak_fields) const {
  absl::flat_hash_map<std::size_t, std::uint64_t> left;
  std::deque<std::size_t> dying;
  auto drop = [&](std::size_t at) {
    auto [it, fresh] = left.try_emplace(at, r_.objects[at].refcount);
    if (it->second > 0 && --it->second == 0) dying.push_back(at);
  };
  for (int id : targets) {
    if (const std::ptrdiff_t to = ids_.find(id); to >= 0) drop(static_cast<std::size_t>(to));
  }
  Freed freed;
  while (!dying.empty()) {
    const std::size_t at = dying.front();
    dying.pop_front();
    freed.objects.push_back(r_.objects[at].id);
    freed.bytes += r_.objects[at].size;
    for (std::size_t k = out_begin_[at]; k < out_begin_[at + 1]; ++k) {
      const std::string& field = field_of_edge_[out_edge_[k]];
      if (!std::binary_search(weak_fields.begin(), weak_fields.end(), field)) drop(out_to_[k]);
    }
  }
  return freed;
}

namespace {

// A cycle's members and edges by local index, for trying fixes on it.
struct LocalGraph {
  std::size_t n = 0;
  struct Arc {
    std::size_t from, to;
    int field;  // into the fields tried; -1 for one the example lacks, never weakened
    bool back;  // to an older object
  };
  std::vector<Arc> arcs;
};

// Whether the graph stays cyclic once the arcs of the `removed` fields are gone (Kahn).
bool still_cyclic(const LocalGraph& g, const std::vector<bool>& removed) {
  std::vector<std::size_t> in(g.n, 0);
  std::vector<std::vector<std::size_t>> out(g.n);
  for (const auto& a : g.arcs) {
    if (a.field >= 0 && removed[static_cast<std::size_t>(a.field)]) continue;
    ++in[a.to];
    out[a.from].push_back(a.to);
  }
  std::vector<std::size_t> ready;
  for (std::size_t v = 0; v < g.n; ++v) {
    if (in[v] == 0) ready.push_back(v);
  }
  std::size_t done = 0;
  while (!ready.empty()) {
    const std::size_t v = ready.back();
    ready.pop_back();
    ++done;
    for (std::size_t w : out[v]) {
      if (--in[w] == 0) ready.push_back(w);
    }
  }
  return done < g.n;
}

}  // namespace

std::vector<FixHint> Analysis::fix_hints(const ShapeFinding& f, std::size_t max) const {
  // The fields of the example cycle, and its graph over them.
  std::vector<std::string> fields;
  std::vector<bool> container;  // by field: its edges carry an index ("pages[2]")
  absl::flat_hash_map<std::string, int> field_index;
  auto local_graph = [&](const Cycle& c, bool add_fields) {
    LocalGraph g;
    absl::flat_hash_map<int, std::size_t> local;
    for (int m : c.members) local.try_emplace(m, local.size());
    g.n = local.size();
    for (const Edge& e : c.edges) {
      const auto from = local.find(e.from), to = local.find(e.to);
      if (from == local.end() || to == local.end() || !has_object(e.from)) continue;
      const std::string field = field_of(object(e.from).type, e.label);
      auto it = field_index.find(field);
      if (it == field_index.end() && add_fields) {
        it = field_index.emplace(field, static_cast<int>(fields.size())).first;
        fields.push_back(field);
        container.push_back(false);
      }
      if (add_fields && e.label.find('[') != std::string::npos) container[it->second] = true;
      const int index = it == field_index.end() ? -1 : it->second;
      g.arcs.push_back({from->second, to->second, index, e.to < e.from});
    }
    return g;
  };
  const LocalGraph example = local_graph(r_.cycles[f.cycles.front()], true);

  // Every set of up to three fields that breaks the example, no superset of a smaller one.
  struct Candidate {
    std::vector<int> fields;
    double back = 0;  // share of its arcs that are back-pointers
    std::size_t containers = 0;
  };
  std::vector<Candidate> found;
  const int k = static_cast<int>(fields.size());
  const int largest = k > 24 ? 2 : 3;  // C(24, 3) tries at most, each over the example
  std::vector<bool> removed(fields.size(), false);
  auto covers_smaller = [&](const std::vector<int>& set) {
    for (const Candidate& c : found) {
      if (std::includes(set.begin(), set.end(), c.fields.begin(), c.fields.end())) return true;
    }
    return false;
  };
  auto consider = [&](const std::vector<int>& set) {
    if (covers_smaller(set)) return;
    for (int i : set) removed[i] = true;
    if (!still_cyclic(example, removed)) {
      Candidate c{set};
      std::size_t arcs = 0, back = 0;
      for (const auto& a : example.arcs) {
        if (!removed[static_cast<std::size_t>(a.field)]) continue;
        ++arcs;
        back += a.back;
      }
      c.back = arcs ? static_cast<double>(back) / static_cast<double>(arcs) : 0;
      for (int i : set) c.containers += container[static_cast<std::size_t>(i)];
      found.push_back(std::move(c));
    }
    for (int i : set) removed[i] = false;
  };
  for (int size = 1; size <= std::min(largest, k) && found.size() < 16; ++size) {
    std::vector<int> set(static_cast<std::size_t>(size));
    // Every combination of `size` fields, in order.
    std::function<void(int, int)> choose = [&](int at, int from) {
      if (at == size) return consider(set);
      for (int i = from; i < k; ++i) {
        set[static_cast<std::size_t>(at)] = i;
        choose(at + 1, i + 1);
      }
    };
    choose(0, 0);
  }
  std::stable_sort(found.begin(), found.end(), [&](const Candidate& a, const Candidate& b) {
    if (a.fields.size() != b.fields.size()) return a.fields.size() < b.fields.size();
    if (a.back != b.back) return a.back > b.back;
    if (a.containers != b.containers) return a.containers < b.containers;
    return a.fields < b.fields;
  });
  if (found.size() > max) found.resize(max);

  // What each does to every cycle of the finding.
  std::vector<FixHint> hints;
  for (const Candidate& c : found) {
    FixHint hint;
    for (int i : c.fields) hint.fields.push_back(fields[i]);
    std::sort(hint.fields.begin(), hint.fields.end());
    std::vector<bool> fix(fields.size(), false);
    for (int i : c.fields) fix[static_cast<std::size_t>(i)] = true;
    std::vector<int> dropped;  // the targets of the finding's edges that the fix weakens
    for (int id : f.cycles) {
      const Cycle& cycle = r_.cycles[id];
      if (!still_cyclic(local_graph(cycle, false), fix)) ++hint.cycles;
      for (const Edge& e : cycle.edges) {
        if (has_object(e.from) && std::binary_search(hint.fields.begin(), hint.fields.end(),
                                                     field_of(object(e.from).type, e.label))) {
          dropped.push_back(e.to);
        }
      }
    }
    hint.freed = freed_when_dropped(dropped, hint.fields);
    hints.push_back(std::move(hint));
  }
  return hints;
}

// "TreeNode -parent-> TreeNode, TreeNode -children[]-> TreeNode": a cycle's kinds of edges.
std::string member_types(const Analysis& a, const Cycle& c) {
  std::map<std::string, int> count;
  for (int m : c.members) ++count[a.object(m).type];
  std::vector<std::string> parts;
  for (const auto& [type, n] : count) parts.push_back(absl::StrCat(n, " ", type));
  return absl::StrJoin(parts, " + ");
}

std::string shape_text(const Analysis& a, const Cycle& c) {
  std::set<std::string> kinds;
  for (const Edge& e : c.edges) {
    std::string label = e.label.substr(0, e.label.find('['));
    if (label.size() < e.label.size()) label += "[]";
    kinds.insert(absl::StrCat(a.object(e.from).type, " -", label, "-> ", a.object(e.to).type));
  }
  return absl::StrJoin(kinds, ", ");
}

std::string weak_kind(const Report& r) {
  return from_shared_ptr_heap(r) ? "std::weak_ptr" : "Weak";
}

std::string fix_text(const FixHint& hint, const std::string& weak) {
  std::string fields;
  for (std::size_t i = 0; i < hint.fields.size(); ++i) {
    absl::StrAppend(&fields,
                    i == 0                        ? ""
                    : i + 1 == hint.fields.size() ? " and "
                                                  : ", ",
                    hint.fields[i]);
  }
  return absl::StrCat("make ", fields, hint.fields.size() == 1 ? " a " : " ", weak);
}

std::string fixes_line(const std::vector<FixHint>& hints, const std::string& weak) {
  if (hints.empty()) return "";
  const FixHint& best = hints.front();
  std::string line = absl::StrCat(
      fix_text(best, weak), " (frees ", best.cycles, best.cycles == 1 ? " cycle, " : " cycles, ",
      best.freed.objects.size(), " objects, ", best.freed.bytes, " bytes)");
  for (std::size_t i = 1; i < hints.size(); ++i)
    absl::StrAppend(&line, "; or ", fix_text(hints[i], weak));
  return line;
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
