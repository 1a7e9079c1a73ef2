#include "report_builder.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <map>
#include <set>
#include <span>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "cyclegc/cyclegc.h"

namespace cyclegc::agent {
namespace {

using report::Cycle;
using report::Edge;
using report::Report;

std::string hex_address(const void* p) {
  char buf[2 + 2 * sizeof(std::uintptr_t)] = {'0', 'x'};
  const auto [end, ec] =
      std::to_chars(buf + 2, buf + sizeof buf, reinterpret_cast<std::uintptr_t>(p), 16);
  return std::string(buf, end);
}

// "kids[3]" -> "kids[]": a shape must not depend on where in a container an edge sits.
std::string label_shape(const std::string& label) {
  const std::size_t open = label.find('[');
  return open == std::string::npos ? label : label.substr(0, open) + "[]";
}

// FNV-1a, fed piece by piece: `h` starts as kFnvBasis.
constexpr std::uint64_t kFnvBasis = 1469598103934665603ull;
std::uint64_t fnv1a(std::uint64_t h, absl::string_view s) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

// The traced edges between the objects of a report, by object id, in compressed rows: a
// million objects with two edges each cost 32 MB here, where a vector of edges per object with
// a string per label cost ten times that. A label is kept as its field name, interned, and the
// container index.
struct Graph {
  struct Out {
    int to;
    int name;           // into `names`
    std::size_t index;  // Visitor::kNoIndex for a field
  };
  std::vector<std::size_t> first;  // object i's edges are out[first[i] .. first[i + 1])
  std::vector<Out> out;
  std::vector<std::string> names;

  std::span<const Out> edges_of(int i) const {
    return {out.data() + first[i], out.data() + first[i + 1]};
  }
  std::string label(const Out& e) const {
    return e.index == Visitor::kNoIndex ? names[e.name]
                                        : absl::StrCat(names[e.name], "[", e.index, "]");
  }
};

// Tarjan's strongly connected components of the graph restricted to `in`, iteratively (graphs
// can be deep). Returns the components with more than one member, or one member with an edge
// to itself.
std::vector<std::vector<int>> cycles_of(const Graph& g, const std::vector<bool>& in) {
  const int n = static_cast<int>(in.size());
  std::vector<int> index(n, -1), low(n, 0), stack;
  std::vector<bool> on_stack(n, false);
  std::vector<std::vector<int>> result;
  int next_index = 0;
  for (int root = 0; root < n; ++root) {
    if (!in[root] || index[root] >= 0) continue;
    std::vector<std::pair<int, std::size_t>> work{{root, g.first[root]}};  // node, next edge
    index[root] = low[root] = next_index++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!work.empty()) {
      auto& [v, edge] = work.back();
      if (edge < g.first[v + 1]) {
        const int w = g.out[edge++].to;
        if (!in[w]) continue;
        if (index[w] < 0) {
          index[w] = low[w] = next_index++;
          stack.push_back(w);
          on_stack[w] = true;
          work.emplace_back(w, g.first[w]);
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      const int done = v;
      work.pop_back();
      if (!work.empty()) low[work.back().first] = std::min(low[work.back().first], low[done]);
      if (low[done] != index[done]) continue;
      std::vector<int> component;
      int w;
      do {
        w = stack.back();
        stack.pop_back();
        on_stack[w] = false;
        component.push_back(w);
      } while (w != done);
      const auto edges = g.edges_of(done);
      const bool self_loop = std::any_of(edges.begin(), edges.end(),
                                         [&](const Graph::Out& e) { return e.to == done; });
      if (component.size() > 1 || self_loop) result.push_back(std::move(component));
    }
  }
  return result;
}

// Walks the cycle depth-first from its first member; the edge that leads back to a node on
// the current path is the one that closes the cycle. Also orders the members as met. `mark` is
// all zero, one entry per object, and is left so: a walk costs its cycle, not the heap.
void walk_cycle(Cycle& c, const Graph& g, const std::vector<int>& component_of, int component,
                std::vector<std::uint8_t>& mark) {
  constexpr std::uint8_t kSeen = 1, kOnPath = 2;
  const int start = c.members.front();
  std::vector<int> order{start};
  std::vector<std::pair<int, std::size_t>> path{{start, g.first[start]}};  // node, next edge
  mark[start] = kSeen | kOnPath;
  bool closed = false;
  while (!path.empty()) {
    auto& [v, e] = path.back();
    if (e == g.first[v + 1]) {
      mark[v] &= ~kOnPath;
      path.pop_back();
      continue;
    }
    const Graph::Out& edge = g.out[e++];
    const int w = edge.to;
    if (component_of[w] != component) continue;
    if (mark[w] & kOnPath) {
      if (!closed) c.closing_edge = {v, w, g.label(edge)};
      closed = true;
    } else if (!(mark[w] & kSeen)) {
      mark[w] = kSeen | kOnPath;
      order.push_back(w);
      path.emplace_back(w, g.first[w]);
    }
  }
  for (int m : order) mark[m] = 0;
  c.members = std::move(order);
}

// A fingerprint of a cycle's types and fields that depends neither on addresses, ids or
// container indices nor on how many members the cycle has, so that one bug is one shape at any
// size and in any run: the FNV-1a hash of the sorted distinct parts ("Type" per member type,
// "From-label->To" per kind of edge, "kids[3]" written "kids[]") joined by '|'. A document with
// two pages and one with three share it. Parts are gathered by (type, label, type) first and
// made text once each.
std::string shape_fingerprint(const Cycle& c, const Graph& g, const std::vector<AnyRef>& objects,
                              const std::vector<int>& component_of) {
  using Type = const detail::TypeInfo*;
  absl::flat_hash_set<Type> members;
  absl::flat_hash_set<std::tuple<Type, int, bool, Type>> edges;
  for (int m : c.members) {
    const Type from = objects[m].header()->type;
    members.insert(from);
    for (const Graph::Out& e : g.edges_of(m)) {
      if (component_of[e.to] != c.id) continue;
      edges.insert({from, e.name, e.index != Visitor::kNoIndex, objects[e.to].header()->type});
    }
  }
  std::set<std::string> parts;  // sorted, and types of one name counted as one
  for (Type type : members) parts.insert(type->name());
  for (const auto& [from, name, indexed, to] : edges) {
    const std::string label = indexed ? g.names[name] + "[0]" : g.names[name];
    parts.insert(absl::StrCat(from->name(), "-", label_shape(label), "->", to->name()));
  }
  std::uint64_t h = kFnvBasis;
  bool first = true;
  for (const std::string& part : parts) {
    if (!first) h = fnv1a(h, "|");
    first = false;
    h = fnv1a(h, part);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, h);
  return hex;
}

bool still_held(const BuildInput& in, const AnyRef& o) {
  if (!in.still_held) return false;
  const auto it = in.still_held->objects.find(o.header());
  return it != in.still_held->objects.end() && it->second.type == o.header()->type;
}

}  // namespace

std::string safe_repr(const AnyRef& object) noexcept {
  try {
    return object.repr();
  } catch (const std::exception& e) {
    try {
      return absl::StrCat("repr threw: ", e.what());
    } catch (...) {
    }
  } catch (...) {
  }
  return "repr threw";
}

report::Report build_report(const BuildInput& in) {
  Report r;
  r.collections = in.collections;

  // One reference per object, in one place: its index is the object's id in the report. The
  // garbage comes first, so an object both there and in a generation counts as garbage.
  std::vector<AnyRef> objects;
  std::vector<bool> in_garbage;
  std::vector<std::int8_t> generation;
  absl::flat_hash_map<const void*, int> id_of;
  std::vector<int> garbage_ids;
  {
    auto garbage = cyclegc::garbage().items();
    std::array<std::vector<AnyRef>, kNumGenerations> generations;
    std::size_t total = garbage.size();
    for (int g = 0; g < kNumGenerations; ++g) {
      generations[g] = cyclegc::get_objects(g);
      total += generations[g].size();
    }
    objects.reserve(total);
    id_of.reserve(total);
    auto add = [&](AnyRef& o, int g) {
      auto [it, added] = id_of.try_emplace(o.address(), static_cast<int>(objects.size()));
      if (added) {
        objects.push_back(std::move(o));
        in_garbage.push_back(g < 0);
        generation.push_back(static_cast<std::int8_t>(g));
      }
      return it->second;
    };
    for (AnyRef& o : garbage) garbage_ids.push_back(add(o, -1));
    for (int g = 0; g < kNumGenerations; ++g) {
      for (AnyRef& o : generations[g]) add(o, g);
    }
  }  // the extra copies are gone: every object now holds exactly one reference from us
  const int n = static_cast<int>(objects.size());

  // Edges of every tracked object, and how many traced edges point at each. An edge to an
  // untracked object is left out: no cycle passes through it.
  Graph graph;
  std::vector<std::uint32_t> traced_in(n, 0);
  {
    absl::flat_hash_map<std::string, int> name_id;
    graph.first.reserve(n + 1);
    cyclegc::for_each_referent_edge(
        objects, [&](std::size_t i, const char* label, std::size_t index, const AnyRef& target) {
          const auto it = id_of.find(target.address());
          if (it == id_of.end()) return;
          while (graph.first.size() <= i) graph.first.push_back(graph.out.size());
          auto [name, added] =
              name_id.try_emplace(absl::string_view(label), static_cast<int>(graph.names.size()));
          if (added) graph.names.emplace_back(label);
          graph.out.push_back({it->second, name->second, index});
          ++traced_in[it->second];
        });
    while (graph.first.size() <= static_cast<std::size_t>(n))
      graph.first.push_back(graph.out.size());
  }  // the edges' references are gone before the counts are read

  std::vector<bool> reported(n, false);
  std::vector<std::uint32_t> untraced(n, 0);
  for (int i = 0; i < n; ++i) {
    const std::uint32_t count = cyclegc::refcount(objects[i]);
    const std::uint32_t known = 1 + traced_in[i] + (in_garbage[i] ? 1 : 0);
    untraced[i] = count > known ? count - known : 0;
    reported[i] = in_garbage[i] || (in.at_exit && !still_held(in, objects[i]));
  }
  if (in.at_exit && in.still_held) r.still_reachable = in.still_held->groups;

  // Each object's allocation stack, as an index into r.stacks (interned as first met).
  std::vector<int> stack_of(n, -1);
  if (in.stacks) {
    absl::flat_hash_map<int, int> report_stack;  // recorder stack id -> report stack id
    for (int i = 0; i < n; ++i) {
      const int s = in.stacks->stack_of(objects[i].address());
      if (s < 0) continue;
      auto [it, added] = report_stack.try_emplace(s, static_cast<int>(r.stacks.size()));
      if (added) {
        report::Stack stack{it->second, {}};
        for (const Frame& f : in.stacks->frames(s))
          stack.frames.push_back({f.function, f.file, f.line});
        r.stacks.push_back(std::move(stack));
      }
      stack_of[i] = it->second;
    }
  }

  r.objects.reserve(in.at_exit ? n : garbage_ids.size());
  if (in.at_exit) r.edges.reserve(graph.out.size());
  for (int i = 0; i < n; ++i) {
    if (!reported[i]) continue;
    const AnyRef& o = objects[i];
    report::Object obj;
    obj.id = i;
    obj.type = o.type_name();
    obj.address = hex_address(o.address());
    obj.size = o.header()->type->value_size;
    if (!in.labels) {
      obj.label = safe_repr(o);
    } else if (auto it = in.labels->find(o.header());
               it != in.labels->end() && it->second.type == o.header()->type) {
      obj.label = it->second.text;
    }
    obj.stack = stack_of[i];
    obj.generation = generation[i];
    obj.refcount = cyclegc::refcount(o) - 1 - (in_garbage[i] ? 1 : 0);  // not ours, not garbage()'s
    obj.untraced_refs = untraced[i];
    r.objects.push_back(std::move(obj));
    for (const Graph::Out& e : graph.edges_of(i)) {
      if (reported[e.to]) r.edges.push_back({i, e.to, graph.label(e)});
    }
    if (!in_garbage[i] && untraced[i] > 0) {
      r.untraced.push_back(i);
    } else if (!in_garbage[i] && in.still_held) {
      r.held_by_leaks.push_back(i);
    }
  }
  // Which garbage is which is the collector's word (SavedCollection), never re-derived here.
  for (std::size_t k = 0; k < garbage_ids.size(); ++k) {
    const bool uncollectable =
        std::any_of(in.uncollectable.begin(), in.uncollectable.end(),
                    [k](const auto& r) { return k >= r.first && k < r.second; });
    (uncollectable           ? r.uncollectable
     : k < in.garbage_before ? r.saved_garbage
                             : r.collectable)
        .push_back(garbage_ids[k]);
  }

  // Cycles among reported objects. Their edges are not filled in, nor their members' chains:
  // the writer leaves both out (they follow from `edges` and `members`) and the reader rebuilds
  // them.
  auto components = cycles_of(graph, reported);
  std::vector<int> component_of(n, -1);
  for (std::size_t c = 0; c < components.size(); ++c) {
    for (int m : components[c]) component_of[m] = static_cast<int>(c);
  }
  std::vector<std::uint8_t> mark(n, 0);
  for (std::size_t c = 0; c < components.size(); ++c) {
    Cycle cycle;
    cycle.id = static_cast<int>(c);
    cycle.members = std::move(components[c]);
    std::sort(cycle.members.begin(), cycle.members.end());  // walk from the oldest member
    walk_cycle(cycle, graph, component_of, cycle.id, mark);
    cycle.shape = shape_fingerprint(cycle, graph, objects, component_of);
    r.cycles.push_back(std::move(cycle));
  }

  // Referrer chains. A cycle member's chain is its cycle (the walk in `members`); writing the
  // hops around the cycle for every member would make a report quadratic in cycle length. Every
  // other object's chain is its shortest path from a root — a cycle member, or an object held
  // by untraced references — found by one breadth-first search from all roots at once, and is
  // written as its last hop only: the rest is the chain of that hop's `from`. Both keep the
  // report, and the time to build it, linear in the objects and edges.
  std::vector<const Graph::Out*> parent_edge(n, nullptr);
  std::vector<int> parent(n, -1);
  std::vector<const char*> root_kind(n, nullptr);
  std::deque<int> queue;
  for (int i = 0; i < n; ++i) {
    if (!reported[i]) continue;
    if (component_of[i] >= 0) {
      root_kind[i] = "cycle";
    } else if (!in_garbage[i] && untraced[i] > 0) {
      root_kind[i] = "holder";
    } else {
      continue;
    }
    queue.push_back(i);
  }
  while (!queue.empty()) {
    const int v = queue.front();
    queue.pop_front();
    for (const Graph::Out& e : graph.edges_of(v)) {
      if (!reported[e.to] || root_kind[e.to]) continue;
      root_kind[e.to] = root_kind[v];
      parent[e.to] = v;
      parent_edge[e.to] = &e;
      queue.push_back(e.to);
    }
  }
  for (int i = 0; i < n; ++i) {
    if (!reported[i] || !root_kind[i] || component_of[i] >= 0) continue;
    if (parent[i] < 0) {
      r.chains.push_back({i, "holder", -1, {}});  // held directly from outside the graph
    } else {
      r.chains.push_back({i, root_kind[i], -1, {{parent[i], i, graph.label(*parent_edge[i])}}});
    }
  }

  // Live objects by type and allocation site, counted by type first: a name is made text once
  // per group, not once per object.
  absl::flat_hash_map<std::pair<const detail::TypeInfo*, int>, report::LiveGroup> by_type;
  for (int i = 0; i < n; ++i) {
    if (in_garbage[i]) continue;
    const detail::TypeInfo* type = objects[i].header()->type;
    report::LiveGroup& g = by_type[{type, stack_of[i]}];
    ++g.count;
    g.bytes += type->block_size;
  }
  std::map<std::pair<std::string, int>, report::LiveGroup> groups;  // types of one name as one
  for (const auto& [key, counted] : by_type) {
    report::LiveGroup& g = groups[{key.first->name(), key.second}];
    g.type = key.first->name();
    g.stack = key.second;
    g.count += counted.count;
    g.bytes += counted.bytes;
  }
  for (auto& [key, g] : groups) r.live.push_back(g);
  return r;
}

}  // namespace cyclegc::agent
