// Google Benchmark: the reference-counting fast path next to std::shared_ptr. Copy and destroy on
// one thread and on two threads sharing one object, make + release, and the heap bytes each
// object costs beyond sizeof(T). Run through `./dev bench`, which turns pairs into ratios; a
// ratio is only meaningful within one run.
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <memory>
#include <thread>
#include <vector>

#include "cyclegc/cyclegc.h"

namespace {

// libstdc++ skips atomic refcounts until a second thread has existed; start one so that the
// baseline is the cost a multithreaded program pays.
void ensure_multithreaded() {
  static const bool once = [] {
    std::thread([] {}).join();
    return true;
  }();
  (void)once;
}

// A container object (it holds a reference, so the collector tracks it) and its shared_ptr twin.
struct Node {
  cyclegc::Ref<Node> next;
  long value = 0;
  void trace(cyclegc::Visitor& v) const { v("next", next); }
};
struct SharedNode {
  std::shared_ptr<SharedNode> next;
  long value = 0;
};

// The objects compared: a tracked node and its shared_ptr twin; a long, which the collector
// does not track (no references inside: header only, no list links).
cyclegc::Ref<Node> make_node() { return cyclegc::make<Node>(); }
std::shared_ptr<SharedNode> make_shared_node() { return std::make_shared<SharedNode>(); }
cyclegc::Ref<long> make_long() { return cyclegc::make<long>(1); }
std::shared_ptr<long> make_shared_long() { return std::make_shared<long>(1); }

// Copies and destroys a pointer to one shared object, on each of the benchmark's threads.
template <class Ptr, Ptr (*make)()>
void BM_CopyDestroy(benchmark::State& state) {
  ensure_multithreaded();
  static Ptr shared;
  if (state.thread_index() == 0) shared = make();
  for (auto _ : state) {
    Ptr copy = shared;
    benchmark::DoNotOptimize(copy);
  }
  if (state.thread_index() == 0) shared = nullptr;
}
BENCHMARK_TEMPLATE(BM_CopyDestroy, cyclegc::Ref<Node>, make_node)
    ->Name("BM_RefCopyDestroy")
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_CopyDestroy, std::shared_ptr<SharedNode>, make_shared_node)
    ->Name("BM_SharedPtrCopyDestroy")
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();

// make + release: allocation, registration with the collector (for a tracked object), and
// destruction by refcounting. For the tracked node on one thread and on two at once (real time
// per operation of both together: two threads that do not contend show half the time).
template <class Ptr, Ptr (*make)()>
void BM_MakeRelease(benchmark::State& state) {
  ensure_multithreaded();
  for (auto _ : state) benchmark::DoNotOptimize(make());
}
BENCHMARK_TEMPLATE(BM_MakeRelease, cyclegc::Ref<Node>, make_node)
    ->Name("BM_MakeRelease")
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_MakeRelease, std::shared_ptr<SharedNode>, make_shared_node)
    ->Name("BM_MakeSharedRelease")
    ->Threads(1)
    ->Threads(2)
    ->UseRealTime();
BENCHMARK_TEMPLATE(BM_MakeRelease, cyclegc::Ref<long>, make_long)->Name("BM_MakeReleaseUntracked");
BENCHMARK_TEMPLATE(BM_MakeRelease, std::shared_ptr<long>, make_shared_long)
    ->Name("BM_MakeSharedReleaseUntracked");

// Heap bytes per object beyond sizeof(T), as the allocator counts them: counter
// `overhead_bytes`. Rounding to malloc's 16-byte granule is included; malloc's own chunk header
// (one size_t, which every allocation pays) is not, so that make_shared shows its 16-byte
// control block.
template <class Make>
void heap_overhead(benchmark::State& state, std::size_t value_size, Make make) {
  constexpr std::size_t kObjects = 100'000;
  using Ptr = decltype(make());
  double overhead = 0;
  for (auto _ : state) {
    std::vector<Ptr> keep;
    keep.reserve(kObjects);
    const std::size_t before = mallinfo2().uordblks;
    for (std::size_t i = 0; i < kObjects; ++i) keep.push_back(make());
    const std::size_t after = mallinfo2().uordblks;
    overhead = static_cast<double>(after - before) / kObjects -
               static_cast<double>(value_size + sizeof(std::size_t));
  }
  state.counters["overhead_bytes"] = overhead;
}

void BM_HeapOverheadRef(benchmark::State& state) {
  cyclegc::disable();  // the objects are all live; no collection needs to look at them
  heap_overhead(state, sizeof(Node), make_node);
  cyclegc::enable();
}
BENCHMARK(BM_HeapOverheadRef)->Iterations(1);

void BM_HeapOverheadSharedPtr(benchmark::State& state) {
  heap_overhead(state, sizeof(SharedNode), make_shared_node);
}
BENCHMARK(BM_HeapOverheadSharedPtr)->Iterations(1);

void BM_HeapOverheadRefUntracked(benchmark::State& state) {
  heap_overhead(state, sizeof(long), make_long);
}
BENCHMARK(BM_HeapOverheadRefUntracked)->Iterations(1);

void BM_HeapOverheadSharedPtrUntracked(benchmark::State& state) {
  heap_overhead(state, sizeof(long), make_shared_long);
}
BENCHMARK(BM_HeapOverheadSharedPtrUntracked)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
