// Google Benchmark: what the agent costs a program. Runs samples/alloc_heavy (1M short-lived
// tracked objects) as a child process without the agent, with the agent and no stacks, and with
// stacks; what the library's hooks for the agent cost when no agent is loaded; and the report
// size per reported object on samples/leaky_tree. Wall time of the whole process.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace {

int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

double timed_run(const std::string& command, benchmark::State& state) {
  const auto start = std::chrono::steady_clock::now();
  if (run(command) != 0) state.SkipWithError(("failed: " + command).c_str());
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string agent_env(const std::string& options) {
  return "LD_PRELOAD=" CYCLEGC_AGENT " CYCLEGC_OPTIONS='" + options + "' ";
}

// arg: 0 no agent, 1 agent without stacks, 2 agent with stacks (depth 16), 3 the same writing
// its report at exit (which symbolizes the stacks of what is reported).
void BM_AllocHeavyProgram(benchmark::State& state) {
  const std::string program = std::string(CYCLEGC_SAMPLES_DIR) + "/alloc_heavy 1000000";
  std::string prefix;
  if (state.range(0) == 1) prefix = agent_env("stack_depth=0:report_path=none:summary=0");
  if (state.range(0) == 2) prefix = agent_env("report_path=none:summary=0");
  const std::string report = "/tmp/cyclegc-bench-exit-" + std::to_string(getpid()) + ".json";
  if (state.range(0) == 3) prefix = agent_env("summary=0:report_path=" + report);
  for (auto _ : state) state.SetIterationTime(timed_run(prefix + program, state));
  std::filesystem::remove(report);
}
BENCHMARK(BM_AllocHeavyProgram)
    ->ArgName("agent")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Arg(3)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

// Counters `name`_ratio, the geometric mean of per-round ratios given as their logs, and
// `name`_ci95, the half-width of its 95% confidence interval as a ratio (0.01 is +-1%).
void report_ratio(benchmark::State& state, const std::string& name,
                  const std::vector<double>& logs) {
  const double n = static_cast<double>(logs.size());
  double mean = 0, var = 0;
  for (double x : logs) mean += x / n;
  for (double x : logs) var += (x - mean) * (x - mean) / (n - 1);
  state.counters[name + "_ratio"] = std::exp(mean);
  state.counters[name + "_ci95"] = std::exp(1.96 * std::sqrt(var / n)) - 1;
}

// No agent loaded: alloc_heavy (statically linked) with the library's hooks for the agent, and
// the same program built without them; and, to show the noise floor, the first binary once more.
// The three runs alternate, rotating their order, so drift on a shared machine falls on all of
// them alike. Counters: the geometric mean of the per-round ratios with hooks / without
// (hooks_ratio) and of the first binary against itself (same_binary_ratio), each with the
// half-width of its 95% confidence interval (…_ci95, as a ratio: 0.01 is ±1%).
void BM_AgentAbsent(benchmark::State& state) {
  const std::string args = " 2000000";
  const std::string with_hooks = CYCLEGC_BENCH_DIR "/alloc_heavy_static" + args;
  const std::string without_hooks = CYCLEGC_BENCH_DIR "/alloc_heavy_without_observer" + args;
  std::vector<double> hooks, same;  // log ratios, one per round
  int round = 0;
  for (auto _ : state) {
    std::array<double, 3> t{};
    for (int i = 0; i < 3; ++i) {
      const int which = (i + round) % 3;
      t[which] = timed_run(which == 1 ? without_hooks : with_hooks, state);
    }
    ++round;
    hooks.push_back(std::log(t[0] / t[1]));
    same.push_back(std::log(t[0] / t[2]));
    state.SetIterationTime(t[0]);
  }
  report_ratio(state, "hooks", hooks);
  report_ratio(state, "same_binary", same);
}
BENCHMARK(BM_AgentAbsent)->UseManualTime()->Iterations(25)->Unit(benchmark::kMillisecond);

// 1000 trees of 10 nodes: 11,000 reported objects, each with its stack and edges.
void BM_ReportSize(benchmark::State& state) {
  const std::string path = "/tmp/cyclegc-bench-report-" + std::to_string(getpid()) + ".json";
  const std::string program = std::string(CYCLEGC_SAMPLES_DIR) + "/leaky_tree 1000 10";
  for (auto _ : state) {
    run(agent_env("summary=0:report_path=" + path) + program);
  }
  const double bytes = static_cast<double>(std::filesystem::file_size(path));
  state.counters["bytes_per_object"] = bytes / 11'000.0;
  std::filesystem::remove(path);
}
BENCHMARK(BM_ReportSize)->Iterations(1)->Unit(benchmark::kMillisecond);

// Issue 15: an allocation-bound std::shared_ptr program that never links cyclegc (4 million
// make_shared, vector growth, map churn), with the agent's heap tracking, against the same
// program alone and against LeakSanitizer (the same source built with -fsanitize=leak). arg:
// 0 alone, 1 agent without stacks, 2 agent with stacks (the default), 3 LeakSanitizer.
std::string shared_ptr_command(int tool) {
  const std::string args = " churn 1000000";
  const std::string program = CYCLEGC_BENCH_DIR "/shared_ptr_program" + args;
  switch (tool) {
    case 1:
      return agent_env("stack_depth=0:summary=0") + program;
    case 2:
      return agent_env("summary=0") + program;
    case 3:
      return "LSAN_OPTIONS=exitcode=0 " CYCLEGC_BENCH_DIR "/shared_ptr_program_lsan" + args;
    default:
      return program;
  }
}

void BM_SharedPtrProgram(benchmark::State& state) {
  const std::string command = shared_ptr_command(static_cast<int>(state.range(0)));
  for (auto _ : state) state.SetIterationTime(timed_run(command, state));
}
BENCHMARK(BM_SharedPtrProgram)
    ->ArgName("tool")
    ->DenseRange(0, 3)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

// The ratios to the program alone, as BM_AgentAbsent measures them: the four runs of a round
// alternate in a rotating order, so that the machine's drift (on this VM the program alone
// takes 105 to 175 ms from one minute to the next) falls on all of them alike. Counters:
// stacks_off_ratio, stacks_on_ratio, lsan_ratio and their _ci95.
void BM_SharedPtrProgramRatios(benchmark::State& state) {
  std::vector<double> off, on, lsan;  // log ratios, one per round
  int round = 0;
  for (auto _ : state) {
    std::array<double, 4> t{};
    for (int i = 0; i < 4; ++i) {
      const int tool = (i + round) % 4;
      t[tool] = timed_run(shared_ptr_command(tool), state);
    }
    ++round;
    off.push_back(std::log(t[1] / t[0]));
    on.push_back(std::log(t[2] / t[0]));
    lsan.push_back(std::log(t[3] / t[0]));
    state.SetIterationTime(t[2]);
  }
  report_ratio(state, "stacks_off", off);
  report_ratio(state, "stacks_on", on);
  report_ratio(state, "lsan", lsan);
}
BENCHMARK(BM_SharedPtrProgramRatios)
    ->UseManualTime()
    ->Iterations(12)
    ->Unit(benchmark::kMillisecond);

// The same rounds on two threads, alone and under the agent with stacks: the tables' locks,
// which a single-threaded process skips, are taken.
void BM_SharedPtrProgramTwoThreads(benchmark::State& state) {
  std::string command = CYCLEGC_BENCH_DIR "/shared_ptr_program churn 1000000 2";
  if (state.range(0) == 1) command = agent_env("summary=0") + command;
  for (auto _ : state) state.SetIterationTime(timed_run(command, state));
}
BENCHMARK(BM_SharedPtrProgramTwoThreads)
    ->ArgName("agent")
    ->DenseRange(0, 1)
    ->UseManualTime()
    ->Iterations(5)
    ->Unit(benchmark::kMillisecond);

// The same program under the heap profilers people reach for, where installed (registered in
// main): heaptrack, and Valgrind's memcheck with --leak-check=full.
void BM_SharedPtrProgramUnder(benchmark::State& state, const std::string& tool) {
  const std::string program = CYCLEGC_BENCH_DIR "/shared_ptr_program churn 1000000";
  const std::string out = "/tmp/cyclegc-bench-heaptrack-" + std::to_string(getpid());
  const std::string command = tool == "heaptrack" ? "heaptrack -o " + out + " " + program
                                                  : "valgrind -q --leak-check=full " + program;
  for (auto _ : state) state.SetIterationTime(timed_run(command, state));
  for (const char* ext : {".zst", ".gz", ""}) std::filesystem::remove(out + ext);
}

bool installed(const std::string& tool) {
  return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0;
}

// The exit analysis of a heap of n live shared objects (and n / 100 leaked rings), with the
// agent writing its report, and the same program alone: near-linear means the agent's extra
// time per object stays flat from 100k to 1M.
void BM_SharedPtrExitAnalysis(benchmark::State& state) {
  const std::string report = "/tmp/cyclegc-bench-heap-" + std::to_string(getpid()) + ".json";
  std::string command =
      CYCLEGC_BENCH_DIR "/shared_ptr_program live " + std::to_string(state.range(0));
  if (state.range(1) == 1) command = agent_env("summary=0:report_path=" + report) + command;
  for (auto _ : state) state.SetIterationTime(timed_run(command, state));
  std::filesystem::remove(report);
}
BENCHMARK(BM_SharedPtrExitAnalysis)
    ->ArgNames({"n", "agent"})
    ->ArgsProduct({{100'000, 1'000'000}, {0, 1}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  for (const char* tool : {"heaptrack", "valgrind"}) {
    if (!installed(tool)) continue;
    benchmark::RegisterBenchmark(("BM_SharedPtrProgramUnder/" + std::string(tool)).c_str(),
                                 BM_SharedPtrProgramUnder, std::string(tool))
        ->UseManualTime()
        ->Iterations(2)
        ->Unit(benchmark::kMillisecond);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
