// The Benchmarks Game's binary-trees, with a parent back-pointer in every node: the workload
// users judge a cycle collector by. cyclegc holds parents strongly and leaves the cycles to the
// collector; std::shared_ptr must hold them weakly (weak_ptr) to free anything; Boehm GC traces
// plain pointers. Each variant runs in a process of its own (bench_table.py), so that its peak
// RSS (counter `maxrss_mb`) is its own. Counter `nodes` checks that all three did the same work.
#include <benchmark/benchmark.h>

#include <memory>
#include <thread>

#include "cyclegc/cyclegc.h"
#include "peak_rss.h"
#ifdef CYCLEGC_BENCH_BOEHM
#include <gc.h>
#endif

namespace {

// The game's loop: a stretch tree of depth max+1; a long-lived tree of depth max; then, for
// each depth 4, 6, ... max, 2^(max - depth + 4) trees built, walked and dropped. Returns the
// nodes walked.
template <class Tree>
long binary_trees(int max_depth) {
  long walked = Tree::check(Tree::make(max_depth + 1));
  auto long_lived = Tree::make(max_depth);
  for (int depth = 4; depth <= max_depth; depth += 2) {
    const long iterations = 1L << (max_depth - depth + 4);
    for (long i = 0; i < iterations; ++i) walked += Tree::check(Tree::make(depth));
  }
  return walked + Tree::check(long_lived);
}

struct CyclegcTree {
  struct Node {
    cyclegc::Ref<Node> left, right, parent;  // parent strong: each tree is a web of cycles
    void trace(cyclegc::Visitor& v) const {
      v("left", left);
      v("right", right);
      v("parent", parent);
    }
  };
  static cyclegc::Ref<Node> make(int depth) {
    auto n = cyclegc::make<Node>();
    if (depth > 0) {
      n->left = make(depth - 1);
      n->right = make(depth - 1);
      n->left->parent = n;
      n->right->parent = n;
    }
    return n;
  }
  static long check(const cyclegc::Ref<Node>& n) {
    return n->left ? 1 + check(n->left) + check(n->right) : 1;
  }
};

struct SharedPtrTree {
  struct Node {
    std::shared_ptr<Node> left, right;
    std::weak_ptr<Node> parent;  // weak, or no tree would ever be freed
  };
  static std::shared_ptr<Node> make(int depth) {
    auto n = std::make_shared<Node>();
    if (depth > 0) {
      n->left = make(depth - 1);
      n->right = make(depth - 1);
      n->left->parent = n;
      n->right->parent = n;
    }
    return n;
  }
  static long check(const std::shared_ptr<Node>& n) {
    return n->left ? 1 + check(n->left) + check(n->right) : 1;
  }
};

#ifdef CYCLEGC_BENCH_BOEHM
struct BoehmTree {
  struct Node {
    Node *left, *right, *parent;
  };
  static Node* make(int depth) {
    Node* n = static_cast<Node*>(GC_MALLOC(sizeof(Node)));  // zeroed
    if (depth > 0) {
      n->left = make(depth - 1);
      n->right = make(depth - 1);
      n->left->parent = n;
      n->right->parent = n;
    }
    return n;
  }
  static long check(const Node* n) { return n->left ? 1 + check(n->left) + check(n->right) : 1; }
};
#endif

// libstdc++ uses atomic refcounts only once a second thread has existed, as in any real
// program that shares ownership; the collector's thread makes cyclegc's process one already.
void ensure_multithreaded() {
  static const bool once = [] {
    std::thread([] {}).join();
    return true;
  }();
  (void)once;
}

template <class Tree>
void BM_BinaryTrees(benchmark::State& state) {
  ensure_multithreaded();
  long nodes = 0;
  for (auto _ : state) nodes = binary_trees<Tree>(static_cast<int>(state.range(0)));
  state.counters["nodes"] = static_cast<double>(nodes);
  state.counters["maxrss_mb"] = peak_rss_mb();
}
BENCHMARK_TEMPLATE(BM_BinaryTrees, CyclegcTree)
    ->Name("BM_BinaryTreesCyclegc")
    ->Arg(16)
    ->Arg(18)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_BinaryTrees, SharedPtrTree)
    ->Name("BM_BinaryTreesSharedPtr")
    ->Arg(16)
    ->Arg(18)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
#ifdef CYCLEGC_BENCH_BOEHM
BENCHMARK_TEMPLATE(BM_BinaryTrees, BoehmTree)
    ->Name("BM_BinaryTreesBoehm")
    ->Arg(16)
    ->Arg(18)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);
#endif

}  // namespace

int main(int argc, char** argv) {
#ifdef CYCLEGC_BENCH_BOEHM
  GC_INIT();
#endif
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
