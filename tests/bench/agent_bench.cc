// Google Benchmark: what the agent costs a program. Runs samples/alloc_heavy (1M short-lived
// tracked objects) as a child process without the agent, with the agent and no stacks, and with
// stacks; and measures report size per 1000 reported objects on samples/leaky_tree. Wall time of
// the whole process, manual timing.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

std::string agent_env(const std::string& options) {
  return "LD_PRELOAD=" CYCLEGC_AGENT " CYCLEGC_OPTIONS='" + options + "' ";
}

// arg: 0 no agent, 1 agent without stacks, 2 agent with stacks (depth 16).
void BM_AllocHeavyProgram(benchmark::State& state) {
  const std::string program = std::string(CYCLEGC_SAMPLES_DIR) + "/alloc_heavy 1000000";
  std::string prefix;
  if (state.range(0) == 1) prefix = agent_env("stack_depth=0:report_path=none:summary=0");
  if (state.range(0) == 2) prefix = agent_env("report_path=none:summary=0");
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    if (run(prefix + program) != 0) state.SkipWithError("the program failed");
    state.SetIterationTime(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
}
BENCHMARK(BM_AllocHeavyProgram)
    ->ArgName("agent")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

// 1000 trees of 10 nodes: 11,000 reported objects, each with its stack and edges.
void BM_ReportSize(benchmark::State& state) {
  const std::string path = "/tmp/cyclegc-bench-report-" + std::to_string(getpid()) + ".json";
  const std::string program = std::string(CYCLEGC_SAMPLES_DIR) + "/leaky_tree 1000 10";
  for (auto _ : state) {
    run(agent_env("summary=0:report_path=" + path) + program);
  }
  const double bytes = static_cast<double>(std::filesystem::file_size(path));
  state.counters["bytes_per_1000_objects"] = bytes / 11.0;
  std::filesystem::remove(path);
}
BENCHMARK(BM_ReportSize)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
