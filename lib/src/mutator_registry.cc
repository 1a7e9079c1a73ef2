// Grace periods without stopping threads, and stops at safepoints when a collection must read
// containers.
//
// Grace periods. An application thread brackets each reference
// operation with two relaxed stores to its own counter (odd inside). The collector announces a
// collection with g_collecting, then calls membarrier(2): every running thread executes a full
// barrier at some point during the call, so afterwards (a) each thread sees the announcement in
// any operation that starts after that point, and (b) the collector sees each thread's counter
// as it was at that point, together with everything the thread wrote before it. A thread whose
// counter is even was outside any operation; one whose counter is odd is waited for until the
// counter changes. When every thread has been seen outside, no operation that could have missed
// the announcement is still running.
//
// Stops. A container moves or frees its storage as it changes, so the collector reads one only
// while no thread can be changing it: while every other registered thread is parked at a
// safepoint (make<>) or blocked in a wait. The collector raises g_stop_requested; a thread
// that reaches a safepoint parks on the registry's condition variable until the stop ends; a
// thread that leaves a wait during a stop parks before it returns to the program. A thread
// that is neither is waited for, but not for long: the collection gives up after a patience and
// keeps the objects it could not read, and it does not try again until that thread has passed a
// safepoint since (stop_mutators). A thread that registers during a stop waits for its end.
#include "mutator_registry.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "cyclegc/mutator.h"
#include "gc_state.h"
#include "thread_buffers.h"

namespace cyclegc::detail {

constinit thread_local MutatorRecord t_mutator __attribute__((tls_model("initial-exec"))) = {
    {0}, 0, false, false, {0}, {false}, false, false, 0, 0, {0}, {nullptr}};
std::atomic<int> g_collecting{0};
std::atomic<bool> g_stop_requested{false};

namespace {

struct Registry {
  std::mutex mu;
  std::vector<MutatorRecord*> records;
  MutatorRecord* collector = nullptr;
  pthread_key_t exit_key;
  int barrier_cmd = 0;  // the membarrier command that works here, 0 before the first use
  // The stop in progress (g_stop_requested mirrors `stopping` for the lock-free fast path).
  bool stopping = false;
  std::condition_variable stop_changed;
  // The thread the last failed stop waited for in vain, and its safepoint count then.
  MutatorRecord* straggler = nullptr;
  std::uint64_t straggler_safepoints = 0;
};

// Blocks freed during a collection, as a lock-free stack (pushes race; the collector takes the
// whole stack at once, so there is no ABA). The link lives in a word no collection reads on a
// dead block: links.next of a tracked block (a collection reads only `prev`, which unlinking
// zeroed), the two count words of an untracked one (a collection checks its type and stops).
std::atomic<ObjectHeader*> g_retired{nullptr};

void* link_word(ObjectHeader* h) {
  return h->type->tracked() ? static_cast<void*>(&h->links()->next) : static_cast<void*>(h);
}
ObjectHeader* retired_next(ObjectHeader* h) {
  ObjectHeader* next;
  std::memcpy(&next, link_word(h), sizeof next);
  return next;
}
void set_retired_next(ObjectHeader* h, ObjectHeader* next) {
  std::memcpy(link_word(h), &next, sizeof next);
}

// Spins of waits that are usually short (a parked thread, a stop being reached), before a
// thread sleeps: a few tens of microseconds.
constexpr int kSpins = 2000;
void pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void deallocate(ObjectHeader* h) {
  const TypeInfo& info = *h->type;
  void* block = reinterpret_cast<char*>(h) - info.block_offset;
  if (info.block_align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(block, std::align_val_t(info.block_align));
  } else {
    ::operator delete(block);
  }
}

void unregister_at_exit(void* record);

Registry& registry() {
  // Never destroyed: threads exit after static teardown.
  static Registry* r = [] {
    auto* made = new Registry();
    pthread_key_create(&made->exit_key, unregister_at_exit);
    return made;
  }();
  return *r;
}

void unregister_at_exit(void* record) {
  auto* m = static_cast<MutatorRecord*>(record);
  settle_this_thread();  // this thread's last young and dead objects
  // Past its thread_local destructors, an exiting thread changes nothing: a stop need not wait.
  m->blocked.store(true, std::memory_order_seq_cst);
  Registry& r = registry();
  ThreadBuffers* buffers;
  {
    std::lock_guard lock(r.mu);
    auto& v = r.records;
    v.erase(std::remove(v.begin(), v.end(), m), v.end());
    if (r.collector == record) r.collector = nullptr;
    m->registered = false;
    buffers = m->buffers.exchange(nullptr);  // no collection reads them past this lock
  }
  free_thread_buffers(buffers);
}

int choose_barrier() {
  if (syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0) {
    return MEMBARRIER_CMD_PRIVATE_EXPEDITED;
  }
  // Older kernels: the global barrier is slower (it waits for an RCU grace period) but correct.
  if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0) return MEMBARRIER_CMD_GLOBAL;
  std::fprintf(stderr,
               "cyclegc: membarrier(2) is unavailable; collections fall back to "
               "sched_yield grace periods, which are only safe on x86-64\n");
  return -1;
}

void memory_barrier_all_threads() {
  Registry& r = registry();
  if (r.barrier_cmd == 0) r.barrier_cmd = choose_barrier();
  if (r.barrier_cmd > 0) {
    syscall(__NR_membarrier, r.barrier_cmd, 0, 0);
  } else {
    // A full fence on this thread only (a seq_cst read-modify-write: ThreadSanitizer does not
    // model atomic_thread_fence).
    static std::atomic<int> fence;
    fence.fetch_add(0, std::memory_order_seq_cst);
  }
}

}  // namespace

void register_mutator() {
  Registry& r = registry();
  std::unique_lock lock(r.mu);
  link_blocking_calls();
  r.stop_changed.wait(lock, [&r] { return !r.stopping; });  // no thread joins during a stop
  t_mutator.registered = true;
  t_mutator.tid = gettid();
  t_mutator.thread = pthread_self();
  r.records.push_back(&t_mutator);
  pthread_setspecific(r.exit_key, &t_mutator);
}

void await_quiescence() {
  Registry& r = registry();
  memory_barrier_all_threads();
  // The lock keeps exiting threads from releasing their records while they are read; a thread
  // never waits for it inside an operation, so this cannot deadlock.
  std::lock_guard lock(r.mu);
  for (MutatorRecord* m : r.records) {
    if (m == &t_mutator) continue;
    const std::uint64_t seen = m->seq.load(std::memory_order_relaxed);
    if ((seen & 1) == 0) continue;
    for (int spins = 0; m->seq.load(std::memory_order_relaxed) == seen; ++spins) {
      if (spins < 64) {
        sched_yield();
      } else {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    }
  }
  memory_barrier_all_threads();
}

void begin_collecting() {
  g_collecting.fetch_add(1, std::memory_order_relaxed);
  await_quiescence();
}

void end_collecting() {
  if (g_collecting.fetch_sub(1, std::memory_order_relaxed) != 1) return;
  // A block pushed after this exchange waits for the next collection: harmless. The blocks
  // belong to the allocating threads' malloc arenas, whose locks are no fairer than std::mutex:
  // freeing them in one tight loop can keep an allocating thread waiting for the whole loop, so
  // the loop steps aside every few hundred blocks.
  int freed = 0;
  for (ObjectHeader* h = g_retired.exchange(nullptr, std::memory_order_acquire); h; ++freed) {
    ObjectHeader* next = retired_next(h);
    deallocate(h);
    h = next;
    if (freed % 256 == 255) std::this_thread::yield();
  }
}

void retire_or_free(ObjectHeader* h) noexcept {
  {
    OpScope scope;  // the decision must be covered by the grace period of begin_collecting()
    if (g_collecting.load(std::memory_order_relaxed) != 0) {
      ObjectHeader* head = g_retired.load(std::memory_order_relaxed);
      do {
        set_retired_next(h, head);
      } while (!g_retired.compare_exchange_weak(head, h, std::memory_order_release,
                                                std::memory_order_relaxed));
      return;
    }
  }
  deallocate(h);
}

MutatorRecord* mutator_at_safepoint() noexcept {
  MutatorRecord& m = t_mutator;
  const bool at = m.registered && !m.exempt && !m.parked && m.depth == 0 &&
                  !destroying_on_this_thread() && !collecting_on_this_thread();
  return at ? &m : nullptr;
}

void reach_safepoint() noexcept {
  MutatorRecord* at = mutator_at_safepoint();
  if (!at) return;  // inside a destructor, an operation or a collection
  MutatorRecord& m = *at;
  Registry& r = registry();
  std::unique_lock lock(r.mu);
  if (!r.stopping) return;
  mark_stack(m);
  m.parked = true;
  lock.unlock();
  r.stop_changed.notify_all();
  // A stop for a young collection lasts tens of microseconds, less than falling asleep and
  // being woken: spin on the flag for about that long first.
  for (int i = 0; i < kSpins && g_stop_requested.load(std::memory_order_acquire); ++i) pause();
  lock.lock();
  r.stop_changed.wait(lock, [&r] { return !r.stopping; });
  m.parked = false;
  m.stack_mark.store(0, std::memory_order_relaxed);
}

// Defined here, beside t_mutator: UBSan misreads initial-exec TLS accesses made from other
// files of a statically linked program as null-pointer accesses.
LibraryWait::LibraryWait() noexcept : outer_(t_mutator.library_wait) {
  t_mutator.library_wait = true;
}
LibraryWait::~LibraryWait() { t_mutator.library_wait = outer_; }

bool stop_mutators(std::chrono::microseconds patience) {
  // The waits below hold the registry's lock on their way out: they must not park there.
  LibraryWait waiting;
  Registry& r = registry();
  std::unique_lock lock(r.mu);
  const auto registered = [&r](MutatorRecord* m) {
    return std::find(r.records.begin(), r.records.end(), m) != r.records.end();
  };
  if (r.stopping) {
    // Another thread's stop (a collection's, or introspection's): one at a time. This thread is
    // inside the library, changing nothing, so it counts as parked while it waits.
    t_mutator.parked = true;
    lock.unlock();
    r.stop_changed.notify_all();
    lock.lock();
    r.stop_changed.wait(lock, [&r] { return !r.stopping; });
    t_mutator.parked = false;
  }
  if (r.straggler && registered(r.straggler) &&
      r.straggler->safepoints.load(std::memory_order_relaxed) == r.straggler_safepoints) {
    return false;  // it would hold every other thread up for the patience, and fail again
  }
  r.straggler = nullptr;
  r.stopping = true;
  g_stop_requested.store(true, std::memory_order_seq_cst);
  // seq_cst pairs with the thread's store of `blocked` and load of g_stop_requested on its way
  // out of a wait (blocking_calls.cc): either this sees it still blocked, or it sees the stop.
  const auto running = [&r]() -> MutatorRecord* {
    for (MutatorRecord* m : r.records) {
      if (m == &t_mutator || m->exempt || m->parked) continue;
      if (!m->blocked.load(std::memory_order_seq_cst)) return m;
    }
    return nullptr;
  };
  const auto deadline = std::chrono::steady_clock::now() + patience;
  for (int i = 0; i < kSpins && running(); ++i) {  // threads that allocate get there at once
    lock.unlock();
    pause();
    lock.lock();
  }
  while (MutatorRecord* m = running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      r.straggler = m;
      r.straggler_safepoints = m->safepoints.load(std::memory_order_relaxed);
      r.stopping = false;
      g_stop_requested.store(false, std::memory_order_relaxed);
      lock.unlock();
      r.stop_changed.notify_all();
      return false;
    }
    // Polled: a thread entering a wait does not notify.
    r.stop_changed.wait_for(lock, std::chrono::microseconds(20));
  }
  return true;
}

void resume_mutators() {
  Registry& r = registry();
  {
    std::lock_guard lock(r.mu);
    r.stopping = false;
    g_stop_requested.store(false, std::memory_order_relaxed);
  }
  r.stop_changed.notify_all();
}

std::size_t other_mutators() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  std::size_t n = 0;
  for (MutatorRecord* m : r.records) n += (m != &t_mutator && m != r.collector);
  return n;
}

namespace {
thread_local bool t_is_collector = false;
}  // namespace

bool is_collector_thread() { return t_is_collector; }

void mark_collector_thread() {
  t_is_collector = true;
  if (!t_mutator.registered) register_mutator();
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.collector = &t_mutator;
  t_mutator.exempt = true;
}

std::vector<RegisteredThread> registered_threads() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<RegisteredThread> out;
  for (MutatorRecord* m : r.records) {
    if (m == r.collector) continue;
    const bool stopped = m->parked || m->blocked.load(std::memory_order_acquire);
    out.push_back({m->tid, m->thread, stopped ? m->stack_mark.load(std::memory_order_relaxed) : 0,
                   m == &t_mutator});
  }
  return out;
}

std::vector<ThreadBuffers*> take_lent_buffers() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  std::vector<ThreadBuffers*> taken;
  for (MutatorRecord* m : r.records) {
    ThreadBuffers* b = m->buffers.load(std::memory_order_acquire);
    if (m != &t_mutator && take_lent(b)) taken.push_back(b);
  }
  return taken;
}

void registry_at_load() { registry(); }
void registry_before_fork() { registry().mu.lock(); }
void registry_after_fork_parent() { registry().mu.unlock(); }
void registry_after_fork_child() {
  Registry& r = registry();
  for (MutatorRecord* m : r.records) {
    if (m != &t_mutator) adopt_buffers_of_vanished_thread(m->buffers.exchange(nullptr));
  }
  r.records.clear();  // only this thread exists in the child, under the child's own ids
  if (t_mutator.registered) {
    t_mutator.tid = gettid();
    t_mutator.thread = pthread_self();
    r.records.push_back(&t_mutator);
  }
  r.collector = nullptr;
  r.stopping = false;  // a stop in the parent is not the child's
  r.straggler = nullptr;
  g_stop_requested.store(false, std::memory_order_relaxed);
  new (&r.stop_changed) std::condition_variable();  // see after_fork_child (collector_thread.cc)
  r.mu.unlock();
}

}  // namespace cyclegc::detail
