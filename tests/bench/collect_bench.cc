// Google Benchmark: collect() on the graph shape of tests/bench/cpython_baseline.py — N live
// chain nodes plus N/2 unreachable two-node cycles — for N = 100k, 1M and 10M; the same
// collection with only the live chain left; and a young collection next to an old generation
// of 10M objects. `./dev bench` runs the CPython script on the same shapes and takes the ratios.
#include <benchmark/benchmark.h>

#include <vector>

#include "cyclegc/cyclegc.h"
#include "peak_rss.h"

namespace {

struct BenchNode {
  cyclegc::Ref<BenchNode> ref;
  void trace(cyclegc::Visitor& v) const { v("ref", ref); }
};

cyclegc::Ref<BenchNode> make_chain(std::size_t n) {
  cyclegc::Ref<BenchNode> head;
  for (std::size_t i = 0; i < n; ++i) {
    auto x = cyclegc::make<BenchNode>();
    x->ref = std::move(head);
    head = std::move(x);
  }
  return head;
}

void make_garbage_cycles(std::size_t pairs) {
  for (std::size_t i = 0; i < pairs; ++i) {
    auto a = cyclegc::make<BenchNode>();
    auto b = cyclegc::make<BenchNode>();
    a->ref = b;
    b->ref = a;
  }
}

// Per object over all 2N objects, as the CPython script reports it.
void per_object_counter(benchmark::State& state, std::size_t objects) {
  state.counters["ns_per_obj"] = benchmark::Counter(
      static_cast<double>(objects),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Each measurement should start from a fresh heap, as the CPython script does: a chain built in
// memory that earlier graphs left behind lies scattered, and walking it costs several times
// more. `./dev bench` therefore runs each benchmark below in a process of its own, one
// collection per process for BM_Collect.

// One full collection that frees N garbage objects while traversing N live ones.
void BM_Collect(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  cyclegc::disable();  // as the script: no automatic collection while the graph is built
  for (auto _ : state) {
    state.PauseTiming();
    cyclegc::collect();
    auto head = make_chain(n);
    make_garbage_cycles(n / 2);
    state.ResumeTiming();
    const std::size_t freed = cyclegc::collect();
    state.PauseTiming();
    head = nullptr;  // freed by refcounting, outside the timed region
    state.ResumeTiming();
    if (freed != n) {
      state.SkipWithError("collect() did not free every garbage object");
      break;
    }
  }
  per_object_counter(state, 2 * n);
  // The process's peak: the graph, plus what the collection needed on top (as the script's
  // maxrss, which also includes the interpreter).
  state.counters["maxrss_mb"] = peak_rss_mb();
  cyclegc::enable();
}
BENCHMARK(BM_Collect)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Arg(10'000'000)
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// The script's second collection: nothing to free, N live objects in the oldest generation to
// traverse. The chain is built once (fixed iterations keep Google Benchmark from calling this
// function again, which would rebuild it in recycled memory).
void BM_CollectLiveOnly(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  cyclegc::disable();
  cyclegc::collect();
  auto head = make_chain(n);
  cyclegc::collect();
  for (auto _ : state) {
    if (cyclegc::collect() != 0) state.SkipWithError("a live object was collected");
  }
  per_object_counter(state, n);
  head = nullptr;
  cyclegc::enable();
}
BENCHMARK(BM_CollectLiveOnly)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Arg(10'000'000)
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

// A generation-0 collection of 10k young objects (a 5k chain hanging off an old object, and
// 2.5k garbage cycles) with an old generation of range(0) objects. Its cost must follow the
// young generation, not the old one.
void BM_YoungCollection(benchmark::State& state) {
  const auto old_objects = static_cast<std::size_t>(state.range(0));
  cyclegc::disable();
  cyclegc::collect();
  auto old = make_chain(old_objects);
  auto anchor = cyclegc::make<BenchNode>();
  cyclegc::collect();  // the chain and the anchor move to the oldest generation
  if (cyclegc::get_count()[0] != 0) state.SkipWithError("the old objects are still young");
  for (auto _ : state) {
    state.PauseTiming();
    anchor->ref = make_chain(5'000);
    make_garbage_cycles(2'500);
    state.ResumeTiming();
    if (cyclegc::collect(0) != 5'000) state.SkipWithError("the young garbage was not freed");
    state.PauseTiming();
    anchor->ref = nullptr;
    state.ResumeTiming();
  }
  per_object_counter(state, 10'000);
  old = nullptr;
  anchor = nullptr;
  cyclegc::enable();
}
BENCHMARK(BM_YoungCollection)
    ->ArgName("old")
    ->Arg(0)
    ->Arg(10'000'000)
    ->Iterations(200)
    ->Unit(benchmark::kMicrosecond);

// What the agent does at the program's end: the conservative scan for what the program still
// holds (find_still_reachable), over N live objects that one local Ref holds as a chain, and a
// std::vector of N/2 more on this frame. Compared with a full collection of the same heap.
void BM_FindStillReachable(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  cyclegc::disable();
  cyclegc::collect();
  auto head = make_chain(n);
  std::vector<cyclegc::Ref<BenchNode>> results;
  for (std::size_t i = 0; i < n / 2; ++i) results.push_back(cyclegc::make<BenchNode>());
  for (auto _ : state) {
    const auto found = cyclegc::find_still_reachable();
    if (found.objects.size() != n + n / 2) state.SkipWithError("the scan missed a held object");
  }
  per_object_counter(state, n + n / 2);
  state.counters["maxrss_mb"] = peak_rss_mb();
  head = nullptr;
  results.clear();
  cyclegc::enable();
}
BENCHMARK(BM_FindStillReachable)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
