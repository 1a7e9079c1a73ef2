// The edges between a report's objects as a graph, and what a report derives from it: the
// cycles (strongly connected components) with the edge that closes each and a shape that names
// the bug, and every other reported object's referrer chain. Shared by the two report builders:
// the collector's objects (report_builder.h) and the std::shared_ptr heap (heap_report.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cyclegc_report/report.h"

namespace cyclegc::agent {

// The traced edges between the objects of a report, by object id, in compressed rows: a
// million objects with two edges each cost 32 MB here, where a vector of edges per object with
// a string per label cost ten times that. A label is kept as its field name, interned, and the
// container index.
struct Graph {
  struct Out {
    int to;
    int name;           // into `names`
    std::size_t index;  // kNoIndex for a field
  };
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);  // a field, not [i]
  std::vector<std::size_t> first;  // object i's edges are out[first[i] .. first[i + 1])
  std::vector<Out> out;
  std::vector<std::string> names;

  std::span<const Out> edges_of(int i) const {
    return {out.data() + first[i], out.data() + first[i + 1]};
  }
  std::string label(const Out& e) const {
    return e.index == kNoIndex ? names[e.name] : absl::StrCat(names[e.name], "[", e.index, "]");
  }
};

// What a shape calls each object: a key equal for objects of one type, and that type's name.
struct TypeOf {
  std::function<const void*(int)> key;
  std::function<std::string(const void*)> name;
};

// Fills r.cycles and r.chains for the objects marked in `reported`. `held_from_outside[i]`:
// object i is held by references outside the graph, so a chain may start there ("holder").
void add_cycles_and_chains(report::Report& r, const Graph& graph, const std::vector<bool>& reported,
                           const std::vector<bool>& held_from_outside, const TypeOf& type_of);

// "0x7f..."
std::string hex_address(const void* p);

}  // namespace cyclegc::agent
