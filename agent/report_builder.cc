#include "report_builder.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <deque>
#include <map>

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
  char buf[32];
  std::snprintf(buf, sizeof buf, "%p", p);
  return buf;
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

// Tarjan's strongly connected components, iteratively (graphs can be deep). Returns the
// components with more than one member, or one member with an edge to itself.
std::vector<std::vector<int>> cycles_of(int n, const std::vector<std::vector<int>>& out) {
  std::vector<int> index(n, -1), low(n, 0), stack;
  std::vector<bool> on_stack(n, false);
  std::vector<std::vector<int>> result;
  int next_index = 0;
  for (int root = 0; root < n; ++root) {
    if (index[root] >= 0) continue;
    std::vector<std::pair<int, std::size_t>> work{{root, 0}};  // node, next edge to look at
    index[root] = low[root] = next_index++;
    stack.push_back(root);
    on_stack[root] = true;
    while (!work.empty()) {
      auto& [v, edge] = work.back();
      if (edge < out[v].size()) {
        const int w = out[v][edge++];
        if (index[w] < 0) {
          index[w] = low[w] = next_index++;
          stack.push_back(w);
          on_stack[w] = true;
          work.emplace_back(w, 0);
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
      const bool self_loop = std::count(out[done].begin(), out[done].end(), done) > 0;
      if (component.size() > 1 || self_loop) result.push_back(std::move(component));
    }
  }
  return result;
}

// Walks the cycle depth-first from its first member; the edge that leads back to a node on
// the current path is the one that closes the cycle. Also orders the members as met.
void walk_cycle(Cycle& c, const std::vector<std::vector<std::pair<int, std::string>>>& out,
                const std::vector<int>& component_of, int component) {
  const int start = c.members.front();
  std::vector<int> order{start};
  std::vector<int> path{start};
  std::vector<std::size_t> next_edge{0};
  absl::flat_hash_map<int, bool> seen{{start, true}};
  absl::flat_hash_set<int> on_path{start};  // the nodes of `path`, for a constant-time test
  bool closed = false;
  while (!path.empty()) {
    const int v = path.back();
    std::size_t& e = next_edge.back();
    if (e == out[v].size()) {
      on_path.erase(v);
      path.pop_back();
      next_edge.pop_back();
      continue;
    }
    const auto& [w, label] = out[v][e++];
    if (component_of[w] != component) continue;
    if (on_path.contains(w)) {
      if (!closed) c.closing_edge = {v, w, label};
      closed = true;
    } else if (!seen[w]) {
      seen[w] = true;
      order.push_back(w);
      path.push_back(w);
      on_path.insert(w);
      next_edge.push_back(0);
    }
  }
  c.members = order;
}

// A fingerprint of a cycle's types and edge labels that does not depend on addresses, ids or
// container indices, so identical cycles from different runs share it. `type_of` maps an id to
// its type name.
template <class TypeOf>
std::string shape_fingerprint(const Cycle& c, const TypeOf& type_of) {
  // The hash of the sorted parts joined by '|'. A large cycle repeats a few distinct parts many
  // times, so they are counted, and the sorted distinct parts fed to the hash as often as they
  // occur: the same value, without a string per member and edge.
  absl::flat_hash_map<std::string, std::size_t> count;
  for (int m : c.members) ++count[type_of(m)];
  for (const Edge& e : c.edges) {
    ++count[absl::StrCat(type_of(e.from), "-", label_shape(e.label), "->", type_of(e.to))];
  }
  std::vector<const std::pair<const std::string, std::size_t>*> parts;
  for (const auto& entry : count) parts.push_back(&entry);
  std::sort(parts.begin(), parts.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::uint64_t h = kFnvBasis;
  bool first = true;
  for (const auto* part : parts) {
    for (std::size_t k = 0; k < part->second; ++k) {
      if (!first) h = fnv1a(h, "|");
      first = false;
      h = fnv1a(h, part->first);
    }
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, h);
  return hex;
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

  // One reference per object, in one place: its index is the object's id in the report.
  std::vector<AnyRef> objects;
  absl::flat_hash_map<const void*, int> id_of;
  std::vector<bool> in_garbage;
  auto add = [&](const AnyRef& o, bool garbage) {
    auto [it, added] = id_of.try_emplace(o.address(), static_cast<int>(objects.size()));
    if (added) {
      objects.push_back(o);
      in_garbage.push_back(garbage);
    }
    return it->second;
  };
  std::vector<int> garbage_ids;
  absl::flat_hash_map<int, int> generation_of;
  {
    const auto garbage = cyclegc::garbage().items();
    for (std::size_t i = 0; i < garbage.size(); ++i) garbage_ids.push_back(add(garbage[i], true));
    for (int g = 0; g < kNumGenerations; ++g) {
      for (const auto& o : cyclegc::get_objects(g)) generation_of[add(o, false)] = g;
    }
  }  // the extra copies are gone: every object now holds exactly one reference from us
  const int n = static_cast<int>(objects.size());

  // Edges of every tracked object, and how many traced edges point at each.
  std::vector<std::vector<std::pair<int, std::string>>> out(n);
  std::vector<std::uint32_t> traced_in(n, 0);
  {
    std::vector<std::vector<cyclegc::Edge>> edges = cyclegc::get_referent_edges(objects);
    for (int i = 0; i < n; ++i) {
      for (auto& e : edges[i]) {
        auto it = id_of.find(e.target.address());
        if (it == id_of.end()) continue;  // an untracked object: no cycle passes through it
        out[i].emplace_back(it->second, std::move(e.label));
        ++traced_in[it->second];
      }
    }
  }  // the edges' references are gone before the counts are read

  std::vector<bool> reported(n, false);
  std::vector<std::uint32_t> untraced(n, 0);
  for (int i = 0; i < n; ++i) {
    const std::uint32_t count = cyclegc::refcount(objects[i]);
    const std::uint32_t known = 1 + traced_in[i] + (in_garbage[i] ? 1 : 0);
    untraced[i] = count > known ? count - known : 0;
    reported[i] = in_garbage[i] || in.at_exit;
  }

  absl::flat_hash_map<int, int> report_stack;  // recorder stack id -> report stack id
  auto stack_for = [&](const AnyRef& o) {
    if (!in.stacks) return -1;
    const int s = in.stacks->stack_of(o.address());
    if (s < 0) return -1;
    auto [it, added] = report_stack.try_emplace(s, static_cast<int>(r.stacks.size()));
    if (added) {
      report::Stack stack{it->second, {}};
      for (const Frame& f : in.stacks->frames(s))
        stack.frames.push_back({f.function, f.file, f.line});
      r.stacks.push_back(std::move(stack));
    }
    return it->second;
  };

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
    obj.stack = stack_for(o);
    if (!in_garbage[i]) obj.generation = generation_of[i];
    obj.refcount = cyclegc::refcount(o) - 1 - (in_garbage[i] ? 1 : 0);  // not ours, not garbage()'s
    obj.untraced_refs = untraced[i];
    r.objects.push_back(std::move(obj));
    for (const auto& [to, label] : out[i]) {
      if (reported[to]) r.edges.push_back({i, to, label});
    }
    if (!in_garbage[i] && untraced[i] > 0) r.untraced.push_back(i);
  }
  for (std::size_t k = 0; k < garbage_ids.size(); ++k) {
    (k < in.garbage_before ? r.saved_garbage : r.collectable).push_back(garbage_ids[k]);
  }

  // Cycles among reported objects.
  std::vector<std::vector<int>> reported_out(n);
  for (int i = 0; i < n; ++i) {
    if (!reported[i]) continue;
    for (const auto& [to, label] : out[i]) {
      if (reported[to]) reported_out[i].push_back(to);
    }
  }
  auto components = cycles_of(n, reported_out);
  std::vector<int> component_of(n, -1);
  for (std::size_t c = 0; c < components.size(); ++c) {
    for (int m : components[c]) component_of[m] = static_cast<int>(c);
  }
  for (std::size_t c = 0; c < components.size(); ++c) {
    Cycle cycle;
    cycle.id = static_cast<int>(c);
    cycle.members = components[c];
    std::sort(cycle.members.begin(), cycle.members.end());  // walk from the oldest member
    for (int m : cycle.members) {
      for (const auto& [to, label] : out[m]) {
        if (component_of[to] == static_cast<int>(c)) cycle.edges.push_back({m, to, label});
      }
    }
    walk_cycle(cycle, out, component_of, static_cast<int>(c));
    cycle.shape = shape_fingerprint(cycle, [&](int id) { return objects[id].type_name(); });
    r.cycles.push_back(std::move(cycle));
  }

  // Under the legacy policy, garbage in a cycle with a finalizer is uncollectable.
  if (in.legacy_policy) {
    std::vector<int> still_collectable;
    for (int id : r.collectable) {
      bool has_finalizer = false;
      const int c = component_of[id];
      for (int m : c >= 0 ? r.cycles[c].members : std::vector<int>{id}) {
        has_finalizer |= objects[m].header()->type->finalize != nullptr;
      }
      (has_finalizer ? r.uncollectable : still_collectable).push_back(id);
    }
    r.collectable = std::move(still_collectable);
  }

  // Referrer chains. A cycle member's chain is its cycle (the walk in `members`); writing the
  // hops around the cycle for every member would make a report quadratic in cycle length. Every
  // other object's chain is its shortest path from a root — a cycle member, or an object held
  // by untraced references — found by one breadth-first search from all roots at once, and is
  // written as its last hop only: the rest is the chain of that hop's `from`. Both keep the
  // report, and the time to build it, linear in the objects and edges.
  std::vector<int> parent(n, -1);
  std::vector<const std::string*> parent_label(n, nullptr);
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
    for (const auto& [to, label] : out[v]) {
      if (!reported[to] || root_kind[to]) continue;
      root_kind[to] = root_kind[v];
      parent[to] = v;
      parent_label[to] = &label;
      queue.push_back(to);
    }
  }
  for (int i = 0; i < n; ++i) {
    if (!reported[i] || !root_kind[i]) continue;
    if (component_of[i] >= 0) {
      r.chains.push_back({i, "cycle", component_of[i], {}});
    } else if (parent[i] < 0) {
      r.chains.push_back({i, "holder", -1, {}});  // held directly from outside the graph
    } else {
      r.chains.push_back({i, root_kind[i], -1, {{parent[i], i, *parent_label[i]}}});
    }
  }

  // Live objects by type and allocation site.
  std::map<std::pair<std::string, int>, report::LiveGroup> groups;
  for (int i = 0; i < n; ++i) {
    if (in_garbage[i]) continue;
    const int stack = stack_for(objects[i]);
    auto& g = groups[{objects[i].type_name(), stack}];
    g.type = objects[i].type_name();
    g.stack = stack;
    ++g.count;
    g.bytes += objects[i].header()->type->block_size;
  }
  for (auto& [key, g] : groups) r.live.push_back(g);
  return r;
}

}  // namespace cyclegc::agent
