// The background collector thread: started with the first tracked object, woken by allocation
// thresholds, bytes allocated, a timer or request_collect(), and stopped when the program ends,
// before the final collection. Application threads only ever notify it; they never wait for it.
#include <pthread.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cyclegc/still_reachable.h"
#include "gc_state.h"
#include "mutator_registry.h"
#include "thread_buffers.h"

#ifdef CYCLEGC_SHARED_LIBRARY
// Defined by the preloaded agent, when there is one (weak: null otherwise).
extern "C" void cyclegc_agent_library_loaded() __attribute__((weak));
#endif

namespace cyclegc::detail {
namespace {

struct CollectorThread {
  std::mutex mu;
  std::condition_variable wake;
  std::thread* thread = nullptr;
  // In a forked child, the parent's thread object: it names a thread the child does not have, so
  // it can be neither joined nor destroyed. Kept here, reachable for leak checkers, never used.
  std::thread* forked_away = nullptr;
  bool stopping = false;
  // Whether the thread is parked in wake.wait(), running nothing (see before_fork()).
  bool parked = false;
  std::condition_variable parked_changed;
  // Pending work: the oldest generation asked for by each trigger, or -1.
  int pending[kNumTriggers] = {-1, -1, -1, -1, -1, -1};
  std::chrono::milliseconds interval{0};
  std::chrono::steady_clock::time_point next_interval;
};

CollectorThread& collector() {
  static CollectorThread* c = new CollectorThread();  // threads may outlive static teardown
  return *c;
}

// The trigger to serve next, most specific first, and the generation it asked for.
bool take_pending(CollectorThread& c, Trigger& trigger, int& generation) {
  for (Trigger t : {Trigger::kRequest, Trigger::kInterval, Trigger::kBytes, Trigger::kThreshold}) {
    int& g = c.pending[static_cast<int>(t)];
    if (g >= 0) {
      trigger = t;
      generation = g;
      g = -1;
      return true;
    }
  }
  return false;
}

void run() {
  mark_collector_thread();
  CollectorThread& c = collector();
  std::unique_lock lock(c.mu);
  while (!c.stopping) {
    Trigger trigger;
    int generation;
    if (!take_pending(c, trigger, generation)) {
      c.parked = true;
      c.parked_changed.notify_all();
      if (c.interval.count() > 0) {
        if (c.wake.wait_until(lock, c.next_interval) == std::cv_status::timeout) {
          c.pending[static_cast<int>(Trigger::kInterval)] = kNumGenerations - 1;
          c.next_interval = std::chrono::steady_clock::now() + c.interval;
        }
      } else {
        c.wake.wait(lock);
      }
      c.parked = false;
      continue;
    }
    lock.unlock();
    if (trigger == Trigger::kThreshold) {
      generation = generation_over_threshold();  // re-evaluated: it may have changed
      if (generation >= 0) run_collection(generation, trigger, /*wait_if_running=*/false);
    } else if (trigger == Trigger::kBytes) {
      if (is_enabled()) run_collection(generation, trigger, /*wait_if_running=*/false);
    } else {
      run_collection(generation, trigger, /*wait_if_running=*/true);
    }
    lock.lock();
  }
}

// fork() copies no thread but the caller, so whatever lock another thread holds stays locked in
// the child. The collector thread is therefore waited for until it is parked (it may be starting
// up or collecting, and both allocate: glibc's malloc survives a fork in the middle of that, a
// sanitizer's allocator does not), and the state and registry are locked across the fork. The
// wait is bounded: a collection may itself be waiting for the forking thread (a finalizer
// executor it serves), and a stalled fork would be worse than the race.
void before_fork() {
  CollectorThread& c = collector();
  std::unique_lock lock(c.mu);
  if (!is_collector_thread()) {
    c.parked_changed.wait_for(lock, std::chrono::seconds(1),
                              [&c] { return !c.thread || c.parked; });
  }
  lock.release();  // held until after_fork_*()
  state().mu.lock();
  registry_before_fork();
}
void after_fork_parent() {
  registry_after_fork_parent();
  state().mu.unlock();
  collector().mu.unlock();
}
// The child has only the forking thread: the collector thread is gone, so it is restarted on
// demand, and no collection is running (before_fork() waited for any that held the state).
void after_fork_child() {
  registry_after_fork_child();
  GcState& s = state();
  s.collecting = false;
  // Another thread may have been inside notify or wait on these at the fork (notify_collector
  // signals without the lock): their copies in the child are in an undefined state. Only this
  // thread exists here, so none is in use; they are made anew. (glibc's condition variables own
  // no resources, so nothing is lost by not destroying the old ones.)
  new (&s.collection_done) std::condition_variable();
  s.mu.unlock();
  CollectorThread& c = collector();
  c.forked_away = std::exchange(c.thread, nullptr);
  c.stopping = false;
  c.parked = false;
  new (&c.wake) std::condition_variable();
  new (&c.parked_changed) std::condition_variable();
  c.mu.unlock();
}

// CPython's _PyGC_DumpShutdownStats: what garbage() still holds. With DEBUG_SAVEALL it holds
// everything on purpose, and nothing is said. The list is printed by repr, as Python prints
// the list; a repr that throws is printed as the object's address instead.
void report_garbage_at_shutdown() {
  GcState& s = state();
  std::vector<AnyRef> garbage;
  int debug;
  {
    std::lock_guard lock(s.mu);
    garbage = s.garbage;
    debug = s.debug;
  }
  if (garbage.empty() || (debug & DEBUG_SAVEALL)) return;
  if (!(debug & DEBUG_UNCOLLECTABLE)) {
    std::fprintf(stderr,
                 "gc: %zu uncollectable objects at shutdown; use "
                 "set_debug(DEBUG_UNCOLLECTABLE) to list them\n",
                 garbage.size());
    return;
  }
  std::string list;
  for (const AnyRef& g : garbage) {
    if (!list.empty()) list += ", ";
    try {
      list += g.repr();
    } catch (...) {
      list += debug_repr(g.header());
    }
  }
  std::fprintf(stderr, "gc: %zu uncollectable objects at shutdown\n      [%s]\n", garbage.size(),
               list.c_str());
}

// Stops the collector thread for good, after the collection it may be running.
void stop_collector_thread() {
  CollectorThread& c = collector();
  {
    std::lock_guard lock(c.mu);
    c.stopping = true;
  }
  c.wake.notify_all();
  if (c.thread && c.thread->get_id() != std::this_thread::get_id()) {
    c.thread->join();
    delete c.thread;
    c.thread = nullptr;
  }
}

// The program's end, CPython's finalization: the observer's last look, then the final
// collection, run while the program's globals are alive (CPython never runs __del__ after module
// teardown). Automatic collections end here; objects freed later by the static destructors are
// freed by their counts, and a cycle left then stays, as in CPython.
void at_program_end() {
  g_program_ended.store(true);
  stop_collector_thread();
  if (const Observer* o = observer(); o && o->on_program_end) {
    clear_stack_below();  // the observer may scan for what the program still holds
    o->on_program_end();
  }
  run_collection(kNumGenerations - 1, Trigger::kExit, /*wait_if_running=*/true);
}

// Every function-local static of the library is initialized while it loads, single-threaded:
// its first use must never happen in a thread racing a fork(), which would leave the guard held
// in the child, and its first make<>() blocked on it for ever.
//
// Then the library tells a preloaded agent that it is here. The agent does not link to
// libcyclegc.so, so that it loads into every process of a process tree and binds to the library
// only in those that load it, at start or by dlopen (agent/preload.cc). The static library has
// no such call: an agent could never observe its objects.
struct AtLoad {
  AtLoad() {
    state();
    collector();
    garbage();
    registry_at_load();
    register_fork_handlers_once();
#ifdef CYCLEGC_SHARED_LIBRARY
    if (cyclegc_agent_library_loaded) cyclegc_agent_library_loaded();
#endif
  }
} at_load;

// After the static destructors: the report of what garbage() still holds, and the thread's stop
// for programs whose end never ran (no tracked object was ever made).
struct AtTeardown {
  ~AtTeardown() {
    stop_collector_thread();
    report_garbage_at_shutdown();
  }
} at_teardown;

}  // namespace

std::atomic<bool> g_program_ended{false};

void register_fork_handlers_once() {
  static const bool registered = [] {
    return pthread_atfork(before_fork, after_fork_parent, after_fork_child) == 0;
  }();
  (void)registered;
}

void register_program_end() {
  register_fork_handlers_once();
  std::atexit(at_program_end);
}

void ensure_collector_thread() {
  CollectorThread& c = collector();
  std::lock_guard lock(c.mu);
  if (c.thread || c.stopping) return;
  register_fork_handlers_once();
  c.next_interval = std::chrono::steady_clock::now() + c.interval;
  c.parked = false;
  c.thread = new std::thread(run);
}

void notify_collector(Trigger trigger, int generation) {
  ensure_collector_thread();
  CollectorThread& c = collector();
  {
    std::lock_guard lock(c.mu);
    int& g = c.pending[static_cast<int>(trigger)];
    g = std::max(g, generation);
  }
  c.wake.notify_one();
}

}  // namespace cyclegc::detail

namespace cyclegc {

void request_collect(int generation) {
  if (generation < 0 || generation >= kNumGenerations) {
    throw std::invalid_argument("request_collect: generation must be in [0, 2], got " +
                                std::to_string(generation));
  }
  detail::settle_this_thread();  // what this thread made is part of what it asks for
  detail::notify_collector(Trigger::kRequest, generation);
}

void set_interval(std::chrono::milliseconds interval) {
  if (interval.count() < 0) {
    throw std::invalid_argument("set_interval: interval must be >= 0 ms (0 turns it off), got " +
                                std::to_string(interval.count()));
  }
  detail::settle_this_thread();  // the first interval sees what this thread made before it
  detail::ensure_collector_thread();
  auto& c = detail::collector();
  {
    std::lock_guard lock(c.mu);
    c.interval = interval;
    c.next_interval = std::chrono::steady_clock::now() + interval;
  }
  c.wake.notify_one();
}

std::chrono::milliseconds get_interval() {
  auto& c = detail::collector();
  std::lock_guard lock(c.mu);
  return c.interval;
}

}  // namespace cyclegc
