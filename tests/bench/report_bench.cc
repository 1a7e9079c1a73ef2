// Google Benchmark: the cost of a report as it grows, for issue 12's complexity bounds. For
// N = 10k, 100k and 1M objects and three kinds of report — one garbage ring of N (a huge SCC), a
// small cycle with a tail of N, and N/10 small cycles of N/10 distinct shapes — each of
// cyclegc-report's summary, chains and html runs as a child process; and a program that leaves
// a ring or a tail of N writes its exit report under the agent (against the same program without
// it). Counters: wall time per object (ns_per_object) and the child's peak RSS (peak_mb).
//
// Peak RSS comes from wait4(): Linux carries a process's high-water mark across fork and exec,
// so reports are made in a short-lived child and this process stays small.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "report_factory.h"

namespace {

namespace fs = std::filesystem;
using cyclegc::report::Report;

enum Kind { kRing = 0, kTail = 1, kShapes = 2 };

Report make_report(Kind kind, int n) {
  Report r = cyclegc::testing::empty_report();
  if (kind == kRing) cyclegc::testing::add_garbage_ring(r, n);
  if (kind == kTail) cyclegc::testing::add_garbage_ring(r, 2, n - 2);
  if (kind == kShapes) {
    for (int i = 0; i < n / 10; ++i) {
      cyclegc::testing::add_garbage_ring(r, 2 + i % 8, 0, "T" + std::to_string(i % (n / 80)));
    }
  }
  return r;
}

double objects_of(Kind kind, int n) {
  if (kind != kShapes) return n;
  double total = 0;
  for (int i = 0; i < n / 10; ++i) total += 2 + i % 8;
  return total;
}

// The report of (kind, n), written once per process by a child that exits.
const std::string& report_file(Kind kind, int n) {
  static std::map<std::pair<int, int>, std::string> files;
  auto [it, added] = files.try_emplace({kind, n});
  if (!added) return it->second;
  it->second =
      (fs::temp_directory_path() / ("cyclegc-bench-" + std::to_string(getpid()) + "-" +
                                    std::to_string(kind) + "-" + std::to_string(n) + ".json"))
          .string();
  const pid_t child = fork();
  if (child == 0) {
    std::ofstream out(it->second);
    cyclegc::report::to_json(make_report(kind, n), [&](std::string_view piece) {
      out.write(piece.data(), piece.size());
    });
    out.close();
    _exit(out ? 0 : 1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return it->second;
}

struct Run {
  bool ok = false;
  double seconds = 0;
  double peak_mb = 0;
};

// Runs `argv` (with `env` added) with its output discarded.
Run run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {}) {
  const auto start = std::chrono::steady_clock::now();
  const pid_t child = fork();
  if (child == 0) {
    const int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  rusage usage{};
  wait4(child, &status, 0, &usage);
  Run r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  r.peak_mb = usage.ru_maxrss / 1024.0;
  return r;
}

void report_counters(benchmark::State& state, double objects, double seconds, double peak_mb) {
  state.counters["objects"] = objects;
  state.counters["ns_per_object"] = seconds * 1e9 / objects;
  state.counters["peak_mb"] = peak_mb;
}

// command: 0 summary, 1 chains, 2 html.
void BM_Tool(benchmark::State& state) {
  const int command = static_cast<int>(state.range(0));
  const Kind kind = static_cast<Kind>(state.range(1));
  const int n = static_cast<int>(state.range(2));
  const std::string& file = report_file(kind, n);
  const std::string page = file + ".html";
  std::vector<std::string> argv = {CYCLEGC_REPORT};
  if (command == 0) argv.insert(argv.end(), {"summary", file});
  if (command == 1) argv.insert(argv.end(), {"chains", file});
  if (command == 2) argv.insert(argv.end(), {"html", file, "-o", page});
  double seconds = 0, peak = 0;
  for (auto _ : state) {
    const Run r = run(argv);
    if (!r.ok) state.SkipWithError("cyclegc-report failed");
    state.SetIterationTime(r.seconds);
    seconds += r.seconds;
    peak = std::max(peak, r.peak_mb);
  }
  report_counters(state, objects_of(kind, n), seconds / static_cast<double>(state.iterations()),
                  peak);
  state.counters["file_mb"] = static_cast<double>(fs::file_size(file)) / (1 << 20);
  if (command == 2) state.counters["page_kb"] = static_cast<double>(fs::file_size(page)) / 1024;
}
BENCHMARK(BM_Tool)
    ->ArgNames({"command", "kind", "n"})
    ->ArgsProduct({{0, 1, 2}, {kRing, kTail, kShapes}, {10000, 100000, 1000000}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

// A program that leaves a ring (mode "doubly-linked") or a tail ("tail") of n objects, without
// the agent (agent:0) and under it, writing its exit report (agent:1).
void BM_ExitReport(benchmark::State& state) {
  const bool tail = state.range(0) == 1;
  const int n = static_cast<int>(state.range(1));
  const bool agent = state.range(2) == 1;
  const std::string report =
      (fs::temp_directory_path() / ("cyclegc-bench-exit-" + std::to_string(getpid()) + ".json"))
          .string();
  std::vector<std::string> env;
  if (agent) {
    env = {"LD_PRELOAD=" CYCLEGC_AGENT, "CYCLEGC_OPTIONS=summary=0:report_path=" + report};
  }
  double seconds = 0, peak = 0;
  for (auto _ : state) {
    const Run r =
        run({CYCLEGC_HOST_PROGRAM, tail ? "tail" : "doubly-linked", std::to_string(n)}, env);
    if (!r.ok) state.SkipWithError("host_program failed");
    state.SetIterationTime(r.seconds);
    seconds += r.seconds;
    peak = std::max(peak, r.peak_mb);
  }
  report_counters(state, n, seconds / static_cast<double>(state.iterations()), peak);
  if (agent) state.counters["file_mb"] = static_cast<double>(fs::file_size(report)) / (1 << 20);
  fs::remove(report);
}
BENCHMARK(BM_ExitReport)
    ->ArgNames({"tail", "n", "agent"})
    ->ArgsProduct({{0, 1}, {10000, 100000, 1000000}, {0, 1}})
    ->UseManualTime()
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  for (const auto& entry : fs::directory_iterator(fs::temp_directory_path())) {
    if (entry.path().filename().string().rfind("cyclegc-bench-" + std::to_string(getpid()) + "-",
                                               0) == 0) {
      fs::remove(entry.path());
    }
  }
  return 0;
}
