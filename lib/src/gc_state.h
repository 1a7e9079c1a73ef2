// The collector's process-wide state: generations, thresholds, counters, debug flags, the
// garbage list and the callbacks. One mutex guards it all. It is held only for short list
// operations and bookkeeping: never while user code runs (finalizers, destructors, callbacks
// may free objects, and freeing a tracked object takes it) and never across a whole analysis,
// so allocating and freeing threads do not wait for a collection.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "cyclegc/gc.h"
#include "cyclegc/object_header.h"
#include "cyclegc/observer.h"
#include "gc_list.h"
#include "thread_buffers.h"

namespace cyclegc::detail {

struct Generation {
  GcLinks head;
  long threshold;
  long count;
};

struct GcState {
  GcState();

  // A std::mutex rather than absl::Mutex: the Debian abseil build is not ThreadSanitizer-
  // instrumented, so TSan cannot see its happens-before edges and would report the guarded
  // accesses as races; pthread mutexes are intercepted by TSan. Guards every field below.
  std::mutex mu;
  std::array<Generation, kNumGenerations> generations;
  GcLinks permanent;
  bool enabled = true;
  bool collecting = false;  // one collection at a time
  std::condition_variable collection_done;
  int debug = 0;
  FinalizerPolicy policy = FinalizerPolicy::kPep442;
  // CPython's guard against quadratic full collections: objects that survived a generation-1
  // collection since the last full one, and the size of generation 2 after it.
  std::size_t long_lived_pending = 0;
  std::size_t long_lived_total = 0;
  std::array<GenerationStats, kNumGenerations> stats;
  std::vector<AnyRef> garbage;
  std::vector<std::pair<CallbackId, Callback>> callbacks;
  CallbackId next_callback_id = 1;
  FinalizerExecutor finalizer_executor;

  // Application threads blocked on `mu` (see lock_for_mutator). The collector steps aside for
  // them between batches: std::mutex is not fair, and without this a collector that re-locks at
  // once can keep an allocating thread asleep for a whole pass over the heap.
  std::atomic<int> waiters{0};
  // Set while the collector holds `mu` for a batch of its pin phase (a hint for waiters).
  std::atomic<bool> collector_batch{false};

  // Read on every tracked allocation without the lock.
  std::atomic<bool> background{true};
  std::atomic<std::size_t> bytes_threshold{64u << 20};
  std::atomic<std::size_t> bytes_since_collection{0};
};

// Never destroyed: objects may be freed by static destructors after every other static is gone.
GcState& state();

// How application threads take the state lock: uncontended, one try_lock; contended, they are
// counted in `waiters` so that the collector lets them in. While the collector holds the lock
// for one of its batches (microseconds, after which it steps aside), a waiter spins rather than
// sleeps: sleeping and being woken costs tens of microseconds, which an allocating thread would
// otherwise pay on every allocation during the pin phase. The spin only reads a flag, so it does
// not slow the holder down; another application thread holds the lock for nanoseconds, and then
// the waiter goes straight to lock().
inline std::unique_lock<std::mutex> lock_for_mutator(GcState& s) {
  std::unique_lock lock(s.mu, std::try_to_lock);
  if (!lock.owns_lock()) {
    constexpr int kSpins = 4000;
    s.waiters.fetch_add(1, std::memory_order_relaxed);
    for (int i = 0; i < kSpins && s.collector_batch.load(std::memory_order_relaxed); ++i) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    lock.lock();
    s.waiters.fetch_sub(1, std::memory_order_relaxed);
  }
  return lock;
}
// Between the collector's batches: let waiting application threads take the lock first.
void yield_to_mutators(GcState& s);

// The state lock, for an answer that depends on the generation lists: the calling thread's
// young objects are listed and its dead ones unlinked first (thread_buffers.h).
inline std::unique_lock<std::mutex> lock_settled(GcState& s) {
  settle_this_thread();
  return std::unique_lock(s.mu);
}

// One collection of `generation`, with callbacks, on the calling thread. Returns the number of
// unreachable objects found. When another collection is running it waits for it to finish, or,
// unless `wait_if_running`, returns 0 at once. A collection started from inside one (a
// finalizer calling collect()) always returns 0.
// What one caller asks of its collection alone (collect_saving_garbage).
struct RunOptions {
  bool save_all = false;                  // keep its garbage, as DEBUG_SAVEALL does
  std::size_t* garbage_before = nullptr;  // garbage().size() when it starts
  // With save_all: where in garbage() the objects it found uncollectable start.
  std::size_t* uncollectable_first = nullptr;
};
std::size_t run_collection(int generation, Trigger trigger, bool wait_if_running,
                           RunOptions options = {});
// CPython's collect_generations policy: the oldest generation over its threshold, or -1.
int generation_over_threshold();

// A C++ symbol or type name as people write it; `mangled` itself when it is not one (type_name.cc).
std::string demangle(const char* mangled);

// "<Graph 0x...>" as CPython's debug output prints objects.
std::string debug_repr(const ObjectHeader* h);

// Registers, once, what runs at the program's end (collector_thread.cc): after the first
// tracked object exists, so that the handler runs before the static destructors of the
// program's globals, which were constructed before it.
void register_program_end();
// pthread_atfork handlers that keep the library's locks whole across fork() (collector_thread.cc).
void register_fork_handlers_once();
// The observer, or null (object_lifetime.cc).
const Observer* observer();
// Set at the program's end: automatic collections stop (explicit ones still run).
extern std::atomic<bool> g_program_ended;

// The background thread (collector_thread.cc).
void notify_collector(Trigger trigger, int generation);
void ensure_collector_thread();

}  // namespace cyclegc::detail
