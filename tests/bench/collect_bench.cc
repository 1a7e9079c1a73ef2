// Google Benchmark: collect() on the graph shape of ../shared/bench/cpython_gc_bench.py (N live
// chain nodes plus N/2 unreachable two-node cycles), and the Ref fast path next to
// std::shared_ptr. Run through `./dev bench`; ratios are only meaningful within one run.
#include <benchmark/benchmark.h>

#include <memory>
#include <thread>

#include "cyclegc/cyclegc.h"

namespace {

struct BenchNode {
  cyclegc::Ref<BenchNode> ref;
  void trace(cyclegc::Visitor& v) const { v("ref", ref); }
};

// One full collection that frees N garbage objects while traversing N live ones.
void BM_CollectCyclesAndLiveChain(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  cyclegc::disable();
  for (auto _ : state) {
    state.PauseTiming();
    cyclegc::collect();
    cyclegc::Ref<BenchNode> head;
    for (std::size_t i = 0; i < n; ++i) {
      auto x = cyclegc::make<BenchNode>();
      x->ref = std::move(head);
      head = std::move(x);
    }
    for (std::size_t i = 0; i < n / 2; ++i) {
      auto a = cyclegc::make<BenchNode>();
      auto b = cyclegc::make<BenchNode>();
      a->ref = b;
      b->ref = a;
    }
    state.ResumeTiming();
    std::size_t freed = cyclegc::collect();
    state.PauseTiming();
    head = nullptr;  // freed by refcounting, outside the timed region
    if (freed != n) {
      state.SkipWithError("collect() did not free every garbage object");
      break;
    }
    state.ResumeTiming();
  }
  state.counters["ns_per_obj_2N"] =
      benchmark::Counter(static_cast<double>(2 * n), benchmark::Counter::kIsIterationInvariantRate |
                                                         benchmark::Counter::kInvert);
  cyclegc::enable();
}
BENCHMARK(BM_CollectCyclesAndLiveChain)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);

// libstdc++ skips atomic refcounts until a second thread exists; start one so the baseline is
// the cost a multithreaded program pays.
void ensure_multithreaded() {
  static bool once = [] {
    std::thread([] {}).join();
    return true;
  }();
  (void)once;
}

void BM_RefCopyDestroy(benchmark::State& state) {
  ensure_multithreaded();
  auto r = cyclegc::make<int>(1);
  for (auto _ : state) {
    cyclegc::Ref<int> copy = r;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_RefCopyDestroy);

void BM_SharedPtrCopyDestroy(benchmark::State& state) {
  ensure_multithreaded();
  auto p = std::make_shared<int>(1);
  for (auto _ : state) {
    std::shared_ptr<int> copy = p;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_SharedPtrCopyDestroy);

}  // namespace

BENCHMARK_MAIN();
