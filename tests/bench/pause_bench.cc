// Google Benchmark: how long an application thread can stall while the background collector
// collects a heap of 1M tracked objects (500k in a live chain, 500k in garbage cycles). The
// application thread times every batch of 64 operations; the longest batch is the pause it saw.
// The same loop without a collection gives the machine's own noise for comparison.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "cyclegc/cyclegc.h"

namespace {

using Clock = std::chrono::steady_clock;

struct PauseNode {
  cyclegc::Ref<PauseNode> ref;
  void trace(cyclegc::Visitor& v) const { v("ref", ref); }
};

cyclegc::Ref<PauseNode> build_heap(std::size_t n) {
  cyclegc::Ref<PauseNode> head;
  for (std::size_t i = 0; i < n / 2; ++i) {
    auto x = cyclegc::make<PauseNode>();
    x->ref = std::move(head);
    head = std::move(x);
  }
  for (std::size_t i = 0; i < n / 4; ++i) {
    auto a = cyclegc::make<PauseNode>();
    auto b = cyclegc::make<PauseNode>();
    a->ref = b;
    b->ref = a;
  }
  return head;
}

std::size_t background_collections() {
  auto stats = cyclegc::get_stats();
  return stats[2].by_trigger[static_cast<int>(cyclegc::Trigger::kRequest)];
}

// Runs `op` in batches until `done()`; returns the longest and the 99.9th percentile batch.
template <class Op, class Done>
std::pair<double, double> batch_latencies_us(Op op, Done done) {
  std::vector<double> batches;
  while (!done()) {
    auto start = Clock::now();
    for (int i = 0; i < 64; ++i) op();
    batches.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
  }
  if (batches.empty()) return {0, 0};
  std::sort(batches.begin(), batches.end());
  return {batches.back(), batches[batches.size() * 999 / 1000]};
}

// arg 0: Ref copy+destroy; arg 1: make + release of a tracked object. arg 2: with a collection.
void BM_ApplicationPauseDuringBackgroundCollection(benchmark::State& state) {
  const bool allocate = state.range(0) == 1;
  const bool collecting = state.range(1) == 1;
  cyclegc::set_background(true);
  cyclegc::set_threshold(0);  // only the requested collection runs
  cyclegc::set_bytes_threshold(0);
  auto shared = cyclegc::make<PauseNode>();
  double worst = 0, p999 = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto head = build_heap(1'000'000);
    const std::size_t before = background_collections();
    state.ResumeTiming();
    auto op = [&] {
      if (allocate) {
        benchmark::DoNotOptimize(cyclegc::make<PauseNode>());
      } else {
        cyclegc::Ref<PauseNode> copy = shared;
        benchmark::DoNotOptimize(copy);
      }
    };
    std::pair<double, double> result;
    if (collecting) {
      cyclegc::request_collect();
      result = batch_latencies_us(op, [&] { return background_collections() > before; });
    } else {
      const auto until = Clock::now() + std::chrono::milliseconds(300);
      result = batch_latencies_us(op, [&] { return Clock::now() >= until; });
    }
    worst = std::max(worst, result.first);
    p999 = std::max(p999, result.second);
    state.PauseTiming();
    head = nullptr;
    cyclegc::collect();
    state.ResumeTiming();
  }
  state.counters["max_pause_us"] = worst;
  state.counters["p999_batch_us"] = p999;
  cyclegc::set_threshold(700);
  cyclegc::set_bytes_threshold(64u << 20);
}
BENCHMARK(BM_ApplicationPauseDuringBackgroundCollection)
    ->ArgNames({"alloc", "collecting"})
    ->Args({0, 0})
    ->Args({0, 1})
    ->Args({1, 0})
    ->Args({1, 1})
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
