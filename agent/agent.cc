// libcyclegc_agent.so: preloaded into a program that uses libcyclegc.so, it records where every
// tracked object was made and writes leak reports — at exit, on a signal, periodically.
//
//   LD_PRELOAD=build/agent/libcyclegc_agent.so CYCLEGC_OPTIONS=debug=leak ./app
//
// It must never harm its host: options it cannot read fall back to defaults with a warning,
// reports it cannot write are an error line on stderr, and it stays idle in setuid programs and
// in programs that do not use libcyclegc.so. Its teardown is a destructor, not atexit(): some
// sanitizer runtimes run atexit handlers after the libraries' statics are gone.
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cyclegc/cyclegc.h"
#include "cyclegc/observer.h"
#include "cyclegc_report/report.h"
#include "cyclegc_report/suppressions.h"
#include "options.h"
#include "report_builder.h"
#include "report_file.h"
#include "stack_recorder.h"

namespace cyclegc::agent {
namespace {

using Clock = std::chrono::steady_clock;

struct Agent {
  Options options;
  std::string options_text;
  std::unique_ptr<StackRecorder> stacks;
  report::Suppressions suppressions;
  Observer observer;
  CallbackId callback = 0;

  std::mutex mu;  // guards collections and collection_start
  std::deque<report::Collection> collections;
  Clock::time_point collection_start;

  std::mutex report_mu;  // one report at a time
  int reports_written = 0;
  int wake[2] = {-1, -1};
  std::thread* worker = nullptr;
  std::atomic<bool> stopping{false};
};

Agent* g_agent = nullptr;  // set once by the constructor, never freed: threads may still use it

void on_track(const void* object, const char*, unsigned long) { g_agent->stacks->record(object); }

void on_collection(Phase phase, const CollectionInfo& info) {
  std::lock_guard lock(g_agent->mu);
  if (phase == Phase::kStart) {
    g_agent->collection_start = Clock::now();
    return;
  }
  constexpr std::size_t kKept = 1000;
  g_agent->collections.push_back(
      {trigger_name(info.trigger), info.generation, info.collected, info.uncollectable,
       std::chrono::duration<double>(Clock::now() - g_agent->collection_start).count(),
       info.unreadable});
  if (g_agent->collections.size() > kKept) g_agent->collections.pop_front();
}

// Whether some loaded object other than the agent lists libcyclegc.so as needed. A program that
// linked cyclegc statically has its own copy, which the agent cannot see.
bool program_uses_shared_library() {
  auto visit = [](dl_phdr_info* info, size_t, void* found) {
    const std::string name = info->dlpi_name ? info->dlpi_name : "";
    if (absl::StrContains(name, "libcyclegc_agent") || absl::StrContains(name, "libcyclegc.so")) {
      return 0;
    }
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      if (info->dlpi_phdr[i].p_type != PT_DYNAMIC) continue;
      auto* dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
      const char* strtab = nullptr;
      for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; ++d) {
        if (d->d_tag == DT_STRTAB) {
          ElfW(Addr) p = d->d_un.d_ptr;
          strtab = reinterpret_cast<const char*>(p < info->dlpi_addr ? p + info->dlpi_addr : p);
        }
      }
      if (!strtab) continue;
      for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; ++d) {
        if (d->d_tag == DT_NEEDED && absl::StrContains(strtab + d->d_un.d_val, "libcyclegc.so")) {
          *static_cast<bool*>(found) = true;
        }
      }
    }
    return 0;
  };
  bool found = false;
  dl_iterate_phdr(visit, &found);
  return found;
}

std::string executable() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

// " allocated at add_child (leaky_tree.cc:25)" (the report keeps the whole signature).
std::string where(const report::Report& r, const report::Object& o) {
  if (o.stack < 0 || r.stacks[o.stack].frames.empty()) return "";
  return " allocated at " + report::site_text(r.stacks[o.stack].frames.front());
}

// What CPython prints per object, with the allocation site added; then the totals.
std::size_t print_summary(const report::Report& r, const std::string& path, bool print) {
  std::size_t leaks = 0, shown = 0;
  absl::flat_hash_map<int, const report::Object*> by_id;
  for (const auto& o : r.objects) by_id[o.id] = &o;
  auto line = [&](std::string what, int id) {
    const report::Object& o = *by_id[id];
    if (o.suppressed) return;
    ++leaks;
    if (what.empty()) {
      what = absl::StrCat("held by ", o.untraced_refs, " untraced reference",
                          o.untraced_refs == 1 ? ":" : "s:");
    }
    if (print && shown++ < 20) {
      std::fprintf(stderr, "cyclegc: %s <%s %s> %s%s\n", what.c_str(), o.type.c_str(),
                   o.address.c_str(), o.label.c_str(), where(r, o).c_str());
    }
  };
  for (int id : r.saved_garbage) line("garbage", id);
  for (int id : r.collectable) line("collectable", id);
  for (int id : r.uncollectable) line("uncollectable", id);
  for (int id : r.untraced) line("", id);
  if (print) {
    std::fprintf(stderr,
                 "cyclegc: %zu leaked objects (%zu cycles): %zu collectable, %zu saved garbage, "
                 "%zu uncollectable, %zu held by untraced references%s%s\n",
                 leaks, r.cycles.size(), r.collectable.size(), r.saved_garbage.size(),
                 r.uncollectable.size(), r.untraced.size(),
                 path.empty() ? "" : "; report: ", path.c_str());
  }
  return leaks;
}

// Collects (keeping the garbage for the report), builds the report, writes it. Returns the
// number of unsuppressed leaks.
std::size_t write_report(Agent& a, const char* reason, bool at_exit) {
  // Nobody would see this report (no file, no summary, no exit status to decide): skip the
  // collection and, above all, the symbolization, which reads every module's debug information.
  if (a.options.report_path == "none" && !a.options.summary && a.options.exitcode == 0) return 0;
  std::lock_guard report_lock(a.report_mu);
  std::fflush(stdout);  // the program's own output first
  const int debug = get_debug();
  const std::size_t before = garbage().size();
  set_debug(debug | DEBUG_SAVEALL);
  collect();
  set_debug(debug);

  BuildInput in;
  in.stacks = a.stacks.get();
  {
    std::lock_guard lock(a.mu);
    in.collections.assign(a.collections.begin(), a.collections.end());
  }
  in.garbage_before = before;
  in.legacy_policy = get_finalizer_policy() == FinalizerPolicy::kLegacy;
  in.at_exit = at_exit;
  report::Report r = build_report(in);
  r.process = {
      getpid(),       executable(),
      a.options_text, a.stacks->method(),
      reason,         absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone())};
  report::apply_suppressions(a.suppressions, r);

  std::string path;
  if (a.options.report_path != "none") {
    path = expand_report_path(a.options.report_path, getpid(), a.reports_written++);
    if (absl::Status s = write_file_atomically(path, report::to_json(r)); !s.ok()) {
      std::fprintf(stderr, "cyclegc: %s\n", std::string(s.message()).c_str());
      path.clear();
    }
  }
  const std::size_t leaks = print_summary(r, path, a.options.summary && (at_exit || !path.empty()));

  // The garbage was kept only for the report, unless the program asked for that itself.
  if (!(debug & DEBUG_SAVEALL)) {
    for (std::size_t i = garbage().size(); i > before; --i) garbage().erase(i - 1);
  }
  return leaks;
}

void on_dump_signal(int) {
  const int saved = errno;
  if (g_agent && g_agent->wake[1] >= 0) {
    [[maybe_unused]] ssize_t n = write(g_agent->wake[1], "s", 1);
  }
  errno = saved;
}

// Writes reports on the dump signal and every interval_ms, on a thread of its own so that the
// signal handler only writes one byte to a pipe.
void run_worker(Agent* a) {
  const int timeout = a->options.interval_ms > 0 ? a->options.interval_ms : -1;
  while (!a->stopping) {
    pollfd p{a->wake[0], POLLIN, 0};
    const int ready = poll(&p, 1, timeout);
    if (a->stopping) return;
    if (ready > 0) {
      char buf[64];
      [[maybe_unused]] ssize_t n = read(a->wake[0], buf, sizeof buf);
      write_report(*a, "signal", false);
    } else if (ready == 0) {
      write_report(*a, "interval", false);
    }
  }
}

void start_worker(Agent& a) {
  if (a.options.dump_signal == 0 && a.options.interval_ms == 0) return;
  if (pipe2(a.wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    std::fprintf(stderr, "cyclegc: cannot create the report thread's pipe: %s\n",
                 std::strerror(errno));
    return;
  }
  a.worker = new std::thread(run_worker, &a);
}

// fork(): the child has no worker thread and must not share the parent's pipe.
void after_fork_child() {
  if (!g_agent) return;
  g_agent->worker = nullptr;  // the thread does not exist here
  close(g_agent->wake[0]);
  close(g_agent->wake[1]);
  g_agent->wake[0] = g_agent->wake[1] = -1;
  start_worker(*g_agent);
}

__attribute__((constructor)) void agent_start() {
  if (getauxval(AT_SECURE)) return;  // setuid or setgid: never act on the environment
  const char* env = std::getenv("CYCLEGC_OPTIONS");
  ParsedOptions parsed = parse_options(env ? env : "");
  for (const auto& w : parsed.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  if (parsed.options.help) std::fputs(options_help().c_str(), stderr);
  if (!program_uses_shared_library()) {
    std::fprintf(stderr,
                 "cyclegc: warning: this program does not use libcyclegc.so (it links cyclegc "
                 "statically, or not at all), so the agent cannot see its objects and stays "
                 "idle\n");
    return;
  }
  auto* a = new Agent();
  a->options = parsed.options;
  a->options_text = env ? env : "";
  if (!a->options.suppressions.empty()) {
    auto loaded = report::load_suppressions(a->options.suppressions);
    if (loaded.ok()) {
      a->suppressions = *std::move(loaded);
    } else {
      std::fprintf(stderr, "cyclegc: ignoring suppressions: %s\n",
                   std::string(loaded.status().message()).c_str());
    }
  }
  a->stacks = std::make_unique<StackRecorder>(a->options.stack_depth);
  a->observer.on_track = on_track;
  g_agent = a;
  if (a->options.stack_depth > 0) set_observer(&a->observer);
  a->callback = add_callback(on_collection);
  if (a->options.debug_flags) set_debug(a->options.debug_flags);
  if (a->options.dump_signal) {
    struct sigaction sa {};
    sa.sa_handler = on_dump_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(a->options.dump_signal, &sa, nullptr);
  }
  pthread_atfork(nullptr, nullptr, after_fork_child);
  start_worker(*a);
}

__attribute__((destructor)) void agent_stop() {
  Agent* a = g_agent;
  if (!a) return;
  a->stopping = true;
  if (a->worker) {
    [[maybe_unused]] ssize_t n = write(a->wake[1], "x", 1);
    a->worker->join();
  }
  const std::size_t leaks = write_report(*a, "exit", true);
  set_observer(nullptr);
  remove_callback(a->callback);
  if (leaks > 0 && a->options.exitcode != 0) {
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(a->options.exitcode);
  }
}

}  // namespace
}  // namespace cyclegc::agent

// For cyclegc::gtest and other tools in the program: "function (file:line)" of where `object`
// was made, written to `buf`; returns its length, or 0 when the agent has no stack for it.
extern "C" __attribute__((visibility("default"))) int cyclegc_agent_allocation_site(
    const void* object, char* buf, std::size_t size) {
  using cyclegc::agent::g_agent;
  if (!g_agent || size == 0) return 0;
  const int stack = g_agent->stacks->stack_of(object);
  if (stack < 0) return 0;
  const auto frames = g_agent->stacks->frames(stack);
  if (frames.empty()) return 0;
  const auto& f = frames.front();
  const std::string site = cyclegc::report::site_text({f.function, f.file, f.line});
  const int n = std::snprintf(buf, size, "%s", site.c_str());
  return n < 0 ? 0 : std::min(n, static_cast<int>(size) - 1);
}
