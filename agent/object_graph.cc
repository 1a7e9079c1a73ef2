#include "object_graph.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <set>
#include <tuple>

#include "absl/container/flat_hash_set.h"

namespace cyclegc::agent {
namespace {

using report::Cycle;
using report::Edge;

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
std::string shape_fingerprint(const Cycle& c, const Graph& g, const TypeOf& type_of,
                              const std::vector<int>& component_of) {
  using Type = const void*;
  absl::flat_hash_set<Type> members;
  absl::flat_hash_set<std::tuple<Type, int, bool, Type>> edges;
  for (int m : c.members) {
    const Type from = type_of.key(m);
    members.insert(from);
    for (const Graph::Out& e : g.edges_of(m)) {
      if (component_of[e.to] != c.id) continue;
      edges.insert({from, e.name, e.index != Graph::kNoIndex, type_of.key(e.to)});
    }
  }
  std::set<std::string> parts;  // sorted, and types of one name counted as one
  for (Type type : members) parts.insert(type_of.name(type));
  for (const auto& [from, name, indexed, to] : edges) {
    const std::string label = indexed ? g.names[name] + "[0]" : g.names[name];
    parts.insert(absl::StrCat(type_of.name(from), "-", label_shape(label), "->", type_of.name(to)));
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

}  // namespace

std::string hex_address(const void* p) {
  char buf[2 + 2 * sizeof(std::uintptr_t)] = {'0', 'x'};
  const auto [end, ec] =
      std::to_chars(buf + 2, buf + sizeof buf, reinterpret_cast<std::uintptr_t>(p), 16);
  return std::string(buf, end);
}

void add_cycles_and_chains(report::Report& r, const Graph& graph, const std::vector<bool>& reported,
                           const std::vector<bool>& held_from_outside, const TypeOf& type_of) {
  // Cycles among reported objects. Their edges are not filled in, nor their members' chains:
  // the writer leaves both out (they follow from `edges` and `members`) and the reader rebuilds
  // them.
  const int n = static_cast<int>(reported.size());
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
    cycle.shape = shape_fingerprint(cycle, graph, type_of, component_of);
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
    } else if (held_from_outside[i]) {
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
}

}  // namespace cyclegc::agent
