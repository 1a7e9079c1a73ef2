// libcyclegc_agent_core.so, the agent proper: loaded by libcyclegc_agent.so (preload.cc) into a
// process that has loaded libcyclegc.so, it records where every tracked object was made and
// writes leak reports — at exit, on a signal, periodically.
//
//   LD_PRELOAD=build/agent/libcyclegc_agent.so CYCLEGC_OPTIONS=debug=leak ./app
//
// It must never harm its host (README, "The agent's safety rules"): it wakes with the first
// tracked object, so a process that loads the library and never makes one hears nothing from
// it; options it cannot read fall back to defaults with a warning; it takes only a signal the
// program leaves at its default and can live without; it owns no file descriptor between
// reports (the signal handler posts a semaphore); it reads only bounded regular files and
// replaces only regular files; its locks are held across fork(); at the program's end it takes
// the objects' labels while the program is alive, and after the static destructors it runs no
// program code at all. Its teardown is a destructor, not atexit(): some sanitizer runtimes run
// atexit handlers after the libraries' statics are gone.
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cyclegc/cyclegc.h"
#include "cyclegc/observer.h"
#include "cyclegc/still_reachable.h"
#include "cyclegc_report/output_file.h"
#include "cyclegc_report/report.h"
#include "cyclegc_report/suppressions.h"
#include "leak_summary.h"
#include "options.h"
#include "report_builder.h"
#include "report_trigger.h"
#include "stack_recorder.h"
#include "symbolizer.h"

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
  ReportTrigger trigger;  // mid-run reports: dump_signal, interval_ms

  // Labels of every tracked object, and what the program still held, taken at the program's
  // end (on_program_end).
  TakenLabels labels;
  std::optional<StillHeld> still_held;
  bool program_ended = false;
  std::size_t garbage_before_end = 0;  // garbage() entries the program made itself
  SavedCollection collection_at_end;   // the one on_program_end ran
};

Agent* g_agent = nullptr;  // set once by the constructor, never freed: threads may still use it

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

// Collects (keeping the garbage for the report), builds the report, writes it. Returns the
// number of unsuppressed leaks.
bool report_wanted(const Agent& a) {
  return a.options.report_path != "none" || a.options.summary || a.options.exitcode != 0;
}

std::size_t write_report(Agent& a, const char* reason, bool at_exit) {
  // Nobody would see this report (no file, no summary, no exit status to decide): skip the
  // collection and, above all, the symbolization, which reads every module's debug information.
  if (!report_wanted(a)) return 0;
  std::lock_guard report_lock(a.report_mu);
  std::fflush(stdout);  // the program's own output first
  const int debug = get_debug();
  // The garbage this collection finds is kept for the report; what garbage() held before it
  // started is the program's own (saved garbage). At exit, the garbage found at the program's
  // end is already there (on_program_end).
  const SavedCollection now = collect_saving_garbage();
  const std::size_t before = at_exit && a.program_ended ? a.garbage_before_end : now.first;

  BuildInput in;
  in.stacks = a.stacks.get();
  {
    std::lock_guard lock(a.mu);
    in.collections.assign(a.collections.begin(), a.collections.end());
  }
  in.garbage_before = before;
  in.uncollectable.emplace_back(now.uncollectable_first, now.first + now.found);
  if (at_exit && a.program_ended) {
    const SavedCollection& end = a.collection_at_end;
    in.uncollectable.emplace_back(end.uncollectable_first, end.first + end.found);
  }
  in.at_exit = at_exit;
  if (at_exit && a.program_ended) in.labels = &a.labels;
  if (at_exit && a.still_held) in.still_held = &*a.still_held;
  report::Report r = build_report(in);
  r.process = {getpid(),
               executable(),
               a.options_text,
               a.stacks->method(),
               reason,
               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()),
               ""};
  report::apply_suppressions(a.suppressions, r);

  std::string path;
  if (a.options.report_path != "none") {
    path = expand_report_path(a.options.report_path, getpid(), a.reports_written++);
    // Only a regular file is replaced: /dev/null (even for root), a FIFO or a link such as
    // /dev/stdout stays what it is.
    const report::OutputFile how{"report", 0600, /*in_place=*/false};
    if (absl::Status s = report::write_file_atomically(
            path, how, [&](report::Sink sink) { report::to_json(r, sink); });
        !s.ok()) {
      std::fprintf(stderr, "cyclegc: %s\n", std::string(s.message()).c_str());
      path.clear();
    }
  }
  const std::size_t leaks = print_summary(r, path, a.options.summary && (at_exit || !path.empty()));

  // The garbage was kept only for the report, unless the program asked for that itself. After
  // the static destructors no destructor of the program's may run (it would find its globals
  // gone), so at exit the garbage is set aside, never freed: the process is ending.
  if (!(debug & DEBUG_SAVEALL)) {
    static auto* set_aside = new std::vector<AnyRef>();  // reachable, never destroyed
    for (std::size_t i = garbage().size(); i > before; --i) {
      if (at_exit) set_aside->push_back(garbage()[i - 1]);
      garbage().erase(i - 1);
    }
  }
  return leaks;
}

// fork(): the agent's locks are held across it, so that the child's copies are consistent and
// free; the child has no worker thread (one is started for it) and a fresh semaphore.
// Held while the agent activates (activate()).
std::mutex g_activation_mu;

// Registered when the agent loads, not when it activates: activation holds g_activation_mu, and
// pthread_atfork() waits for a fork in progress, whose prepare handler waits for that lock. A
// fork waits for an activation under way, so the child inherits the agent either whole or not
// yet set up (and then sets itself up at its own first object).
void before_fork() {
  g_activation_mu.lock();
  if (!g_agent) return;
  g_agent->mu.lock();
  g_agent->stacks->before_fork();
}
void after_fork_parent() {
  if (g_agent) {
    g_agent->stacks->after_fork();
    g_agent->mu.unlock();
  }
  g_activation_mu.unlock();
}
void after_fork_child() {
  g_activation_mu.unlock();
  Agent* a = g_agent;
  if (!a) return;
  a->stacks->after_fork();
  a->mu.unlock();
  // A report may have been in progress on another thread: its lock is that thread's, which the
  // child does not have.
  new (&a->report_mu) std::mutex();
  a->trigger.after_fork_child();
}

// The library's scan of what the program still holds, kept as headers and types only: a
// reference kept to the end would keep the static destructors from freeing what globals hold.
void take_still_held(Agent& a) {
  const StillReachable found = find_still_reachable();
  if (!found.scanned) return;
  StillHeld& held = a.still_held.emplace();
  absl::flat_hash_map<std::string, int> group_named;
  std::vector<int> group_of(found.holders.size());
  for (std::size_t h = 0; h < found.holders.size(); ++h) {
    Holder holder = found.holders[h];
    // The symbol table names the statics the dynamic one (and so the library) cannot.
    if (holder.kind == Holder::Kind::kGlobal) {
      if (std::string symbol = data_symbol(reinterpret_cast<std::uintptr_t>(holder.address));
          !symbol.empty()) {
        holder.symbol = std::move(symbol);
      }
    }
    std::string name = holder_name(holder);
    const char* kind = holder.kind == Holder::Kind::kStack ? "stack" : "global";
    auto [it, added] = group_named.try_emplace(name, static_cast<int>(held.groups.size()));
    if (added) held.groups.push_back({kind, std::move(name), 0, 0});
    group_of[h] = it->second;
  }
  held.objects.reserve(found.objects.size());
  for (std::size_t i = 0; i < found.objects.size(); ++i) {
    const detail::ObjectHeader* header = found.objects[i].header();
    const int group = group_of[found.holder[i]];
    held.objects[header] = {header->type, group};
    ++held.groups[group].count;
    held.groups[group].bytes += header->type->block_size;
  }
}

// The program's end (exit() or main's return), before its static destructors: the last moment
// its code may run. The worker stops; the garbage is kept for the exit report (the final
// collection, which follows, would free it); and every object's label is taken now, because
// after the static destructors a repr() may read the program's destroyed globals.
void on_program_end() {
  Agent* a = g_agent;
  if (!a) return;
  a->trigger.stop();
  if (!report_wanted(*a)) return;
  std::lock_guard report_lock(a->report_mu);
  a->collection_at_end = collect_saving_garbage();
  a->garbage_before_end = a->collection_at_end.first;
  take_still_held(*a);  // before anything here holds an object: this frame is a root
  const auto saved = garbage().items();
  const auto live = get_objects();
  a->labels.reserve(saved.size() + live.size());
  for (const auto* list : {&saved, &live}) {
    for (const AnyRef& o : *list) a->labels[o.header()] = {o.header()->type, safe_repr(o)};
  }
  a->program_ended = true;
}

// The options, parsed at start but acted on only once the process makes a tracked object.
ParsedOptions* g_parsed = nullptr;
const char* g_options_env = nullptr;
std::atomic<bool> g_active{false};

void activate();

void on_track(const void* object, const char*, unsigned long) {
  if (!g_active.load(std::memory_order_acquire)) activate();
  if (Agent* a = g_agent) a->stacks->record(object);
}

Observer g_waiting_observer;  // on_track only, until the first tracked object

// The first tracked object: the process uses cyclegc, so the agent says what it has to say and
// sets itself up.
void activate() {
  std::lock_guard lock(g_activation_mu);
  if (g_active.load(std::memory_order_relaxed)) return;
  ParsedOptions& parsed = *g_parsed;
  for (const auto& w : parsed.warnings) std::fprintf(stderr, "%s\n", w.c_str());
  auto* a = new Agent();
  a->options = parsed.options;
  a->options_text = g_options_env ? g_options_env : "";
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
  a->observer.on_program_end = on_program_end;
  a->callback = add_callback(on_collection);
  if (a->options.debug_flags) set_debug(a->options.debug_flags);
  g_agent = a;
  set_observer(&a->observer);
  a->trigger.start(a->options.dump_signal, a->options.interval_ms,
                   [](const char* reason) { write_report(*g_agent, reason, false); });
  g_active.store(true, std::memory_order_release);
}

__attribute__((constructor)) void agent_start() {
  if (getauxval(AT_SECURE)) return;  // setuid or setgid: never act on the environment
  g_options_env = std::getenv("CYCLEGC_OPTIONS");
  g_parsed = new ParsedOptions(parse_options(g_options_env ? g_options_env : ""));
  if (g_parsed->options.help) std::fputs(options_help().c_str(), stderr);  // asked for: now
  g_waiting_observer.on_track = on_track;
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  set_observer(&g_waiting_observer);
}

__attribute__((destructor)) void agent_stop() {
  Agent* a = g_agent;
  if (!a) {
    if (g_parsed && g_parsed->options.verbosity > 0) {
      std::fputs(
          "cyclegc: this program loaded libcyclegc.so but made no object, so the agent "
          "stayed idle\n",
          stderr);
    }
    return;
  }
  a->trigger.stop();
  const std::size_t leaks = write_report(*a, "exit", true);
  set_observer(nullptr);
  remove_callback(a->callback);
  if (leaks > 0 && a->options.exitcode != 0) {
    std::fflush(nullptr);  // every stream the program left open: _exit() flushes none
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

// For cyclegc::gtest: the name of the global whose storage holds `address`, from the symbol
// table, written to `buf`; returns its length, or 0 when there is none.
extern "C" __attribute__((visibility("default"))) int cyclegc_agent_data_symbol(const void* address,
                                                                                char* buf,
                                                                                std::size_t size) {
  if (!cyclegc::agent::g_agent || size == 0) return 0;
  const std::string name = cyclegc::agent::data_symbol(reinterpret_cast<std::uintptr_t>(address));
  if (name.empty()) return 0;
  const int n = std::snprintf(buf, size, "%s", name.c_str());
  return n < 0 ? 0 : std::min(n, static_cast<int>(size) - 1);
}
