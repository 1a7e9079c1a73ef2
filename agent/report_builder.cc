#include "report_builder.h"

#include "object_graph.h"

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
          graph.out.push_back(
              {it->second, name->second, index == Visitor::kNoIndex ? Graph::kNoIndex : index});
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

  std::vector<bool> held_from_outside(n, false);
  for (int i = 0; i < n; ++i) held_from_outside[i] = !in_garbage[i] && untraced[i] > 0;
  const TypeOf type_of{
      [&](int i) -> const void* { return objects[i].header()->type; },
      [](const void* t) { return static_cast<const detail::TypeInfo*>(t)->name(); }};
  add_cycles_and_chains(r, graph, reported, held_from_outside, type_of);

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
