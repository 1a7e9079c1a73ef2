// Reports of any size and shape, made without running a program: for the tests and benchmarks
// that hold the reader and the tool to bounded memory and near-linear time. Ids are 0..N-1, as
// the agent writes them; `shuffled_ids` numbers them otherwise, as an older or hand-made report
// might.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cyclegc_report/report.h"

namespace cyclegc::testing {

inline report::Report empty_report() {
  report::Report r;
  r.process = {1, "/bin/app", "", "frame-pointer", "exit", "2026-12-02T00:00:00Z", ""};
  r.stacks = {{0, {{"make_node(int)", "/src/app/graph.cc", 12}, {"main", "/src/app/main.cc", 40}}}};
  return r;
}

// Adds an object and returns its id.
inline int add_object(report::Report& r, const std::string& type, int generation = -1) {
  const int id = static_cast<int>(r.objects.size());
  r.objects.push_back({id, type, "0x" + std::to_string(0x10000 + 64 * id), 48,
                       type + "(" + std::to_string(id) + ")", generation, 0, 1, 0, false});
  return id;
}

// A garbage cycle of `n` objects linked next and prev (a doubly linked ring), with a tail of
// `tail` objects hanging off its first member, each held by the one before.
inline void add_garbage_ring(report::Report& r, int n, int tail = 0,
                             const std::string& type = "Node") {
  report::Cycle c;
  c.id = static_cast<int>(r.cycles.size());
  for (int i = 0; i < n; ++i) c.members.push_back(add_object(r, type));
  for (int i = 0; i < n; ++i) {
    const int a = c.members[i], b = c.members[(i + 1) % n];
    r.edges.push_back({a, b, "next"});
    if (n > 1) r.edges.push_back({b, a, "prev"});
    r.objects[a].refcount = n > 1 ? 2 : 1;
  }
  c.closing_edge = {c.members[n - 1], c.members[0], "next"};
  c.shape = type + std::to_string(n);  // one shape per type and length, as real shapes are
  r.collectable.insert(r.collectable.end(), c.members.begin(), c.members.end());
  int holder = c.members[0];
  for (int i = 0; i < tail; ++i) {
    const int t = add_object(r, type + "Tail");
    r.edges.push_back({holder, t, "tail"});
    r.chains.push_back({t, "cycle", -1, {{holder, t, "tail"}}});
    r.collectable.push_back(t);
    holder = t;
  }
  r.cycles.push_back(std::move(c));
}

// `n` live objects held by untraced references, each keeping one more alive.
inline void add_untraced_holders(report::Report& r, int n) {
  for (int i = 0; i < n; ++i) {
    const int h = add_object(r, "Session", 2);
    r.objects[h].untraced_refs = 1;
    r.untraced.push_back(h);
    r.chains.push_back({h, "holder", -1, {}});
    const int kept = add_object(r, "Buffer", 2);
    r.edges.push_back({h, kept, "buf"});
    r.chains.push_back({kept, "holder", -1, {{h, kept, "buf"}}});
  }
}

// Renumbers objects as k*7+3 (so ids are neither positions nor dense).
inline void shuffle_ids(report::Report& r) {
  auto id = [](int i) { return i * 7 + 3; };
  for (auto& o : r.objects) o.id = id(o.id);
  for (auto& e : r.edges) e = {id(e.from), id(e.to), e.label};
  for (auto* list : {&r.collectable, &r.uncollectable, &r.saved_garbage, &r.untraced}) {
    for (int& x : *list) x = id(x);
  }
  for (auto& c : r.cycles) {
    for (int& m : c.members) m = id(m);
    c.closing_edge = {id(c.closing_edge.from), id(c.closing_edge.to), c.closing_edge.label};
  }
  for (auto& ch : r.chains) {
    ch.object = id(ch.object);
    for (auto& e : ch.hops) e = {id(e.from), id(e.to), e.label};
  }
}

}  // namespace cyclegc::testing
