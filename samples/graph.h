// The Graph type of the seed articles, in C++: a named node with one `next` edge and the
// printable form Graph(one). CleanupGraph adds a finalizer, as the articles' subclass adds
// __del__. Samples print with std::cout unbuffered, like `python -u`, so their output and the
// collector's stderr lines interleave in the order they happen.
#pragma once

#include <array>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cyclegc/cyclegc.h"

template <class Self>
struct GraphBase {
  std::string name;
  cyclegc::Ref<Self> next;

  explicit GraphBase(std::string n) : name(std::move(n)) {}
  void set_next(cyclegc::Ref<Self> n, bool announce = true) {
    if (announce) std::cout << "Linking nodes " << repr() << ".next = " << repr_of(n) << "\n";
    next = std::move(n);
  }
  void trace(cyclegc::Visitor& v) const { v("next", next); }
  std::string repr() const { return std::string(Self::kClassName) + "(" + name + ")"; }
  static std::string repr_of(const cyclegc::Ref<Self>& r) { return r ? r->repr() : "nullptr"; }
};

struct Graph : GraphBase<Graph> {
  static constexpr const char* kClassName = "Graph";
  using GraphBase::GraphBase;
};

struct CleanupGraph : GraphBase<CleanupGraph> {
  static constexpr const char* kClassName = "CleanupGraph";
  using GraphBase::GraphBase;
  void finalize() { std::cout << repr() << ".finalize()\n"; }
};

// A Graph whose class is also called "Graph" in its output but which has a finalizer, for the
// samples where the articles give Graph itself a __del__.
struct FinalizingGraph : GraphBase<FinalizingGraph> {
  static constexpr const char* kClassName = "Graph";
  using GraphBase::GraphBase;
  void finalize() { std::cout << repr() << ".finalize()\n"; }
};

// The articles' three-node cycle, one -> two -> three -> one, announcing each link.
template <class G>
std::array<cyclegc::Ref<G>, 3> make_three_cycle() {
  auto one = cyclegc::make<G>("one");
  auto two = cyclegc::make<G>("two");
  auto three = cyclegc::make<G>("three");
  one->set_next(two);
  two->set_next(three);
  three->set_next(one);
  return {one, two, three};
}

// "[Graph(one), Graph(two)]", as pprint shows gc.garbage.
inline std::string format_garbage() {
  std::string out = "[";
  for (const auto& item : cyclegc::garbage().items()) {
    if (out.size() > 1) out += ", ";
    out += item.repr();
  }
  return out + "]";
}

// "Collecting... / Unreachable objects: N / Remaining Garbage: [...]", as the articles print.
inline void collect_and_report() {
  std::cout << "\nCollecting...\n";
  std::size_t n = cyclegc::collect();
  std::cout << "Unreachable objects: " << n << "\n";
  std::cout << "Remaining Garbage: " << format_garbage() << "\n";
}

// Every sample starts like `python -u`: unbuffered output.
inline void unbuffered_output() { std::cout << std::unitbuf; }

// Samples whose seed output differs between Python 2 and 3 take --legacy for Python 2's
// finalizer policy. Returns whether it was given.
inline bool apply_legacy_flag(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--legacy") == 0) {
      cyclegc::set_finalizer_policy(cyclegc::FinalizerPolicy::kLegacy);
      return true;
    }
  }
  return false;
}
