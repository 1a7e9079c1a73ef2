// The README's Folder example as a program runs it: make_tree() in a loop (a parent and a child
// holding each other, the child in a std::vector), with default settings and the background
// collector, against the same loop with collections on the allocating thread
// (set_background(false), CPython's way). Figures: the share of the garbage destroyed by the
// time the loop ends, without asking for a collection, and the process's peak RSS. Run one
// benchmark per process (bench_table.py), so that the peak belongs to that run alone.
#include <benchmark/benchmark.h>

#include <atomic>
#include <thread>
#include <vector>

#include "cyclegc/cyclegc.h"
#include "peak_rss.h"

namespace {

struct Folder {
  static inline std::atomic<long> destroyed{0};
  cyclegc::Ref<Folder> parent;
  std::vector<cyclegc::Ref<Folder>> children;
  ~Folder() { destroyed.fetch_add(1, std::memory_order_relaxed); }
  void trace(cyclegc::Visitor& v) const {
    v("parent", parent);
    v("children", children);
  }
};

void make_tree() {
  auto root = cyclegc::make<Folder>();
  auto child = cyclegc::make<Folder>();
  child->parent = root;
  root->children.push_back(child);
}

// range(0): trees in all; range(1): 1 background collector, 0 collections on the allocating
// thread; range(2): threads sharing the trees (the main thread only waits for them).
void BM_FolderLoop(benchmark::State& state) {
  const long trees = state.range(0);
  const int threads = static_cast<int>(state.range(2));
  cyclegc::set_background(state.range(1) == 1);
  for (auto _ : state) {
    Folder::destroyed = 0;
    auto work = [&] {
      for (long i = 0; i < trees / threads; ++i) make_tree();
    };
    if (threads == 1) {
      work();
    } else {
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) pool.emplace_back(work);
      for (auto& t : pool) t.join();
    }
    const auto stats = cyclegc::get_stats();
    double collections = 0, unreadable = 0;
    for (const auto& g : stats) {
      collections += static_cast<double>(g.collections);
      unreadable += static_cast<double>(g.unreadable);
    }
    state.counters["collections"] = collections;
    state.counters["unreadable"] = unreadable;
    state.counters["freed_share"] =
        static_cast<double>(Folder::destroyed.load()) / static_cast<double>(2 * trees);
  }
  state.counters["maxrss_mb"] = peak_rss_mb();
}
BENCHMARK(BM_FolderLoop)
    ->ArgNames({"trees", "background", "threads"})
    ->ArgsProduct({{100'000, 1'000'000}, {1, 0}, {1, 4}})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
