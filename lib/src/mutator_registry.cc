// Grace periods without stopping threads. An application thread brackets each reference
// operation with two relaxed stores to its own counter (odd inside). The collector announces a
// collection with g_collecting, then calls membarrier(2): every running thread executes a full
// barrier at some point during the call, so afterwards (a) each thread sees the announcement in
// any operation that starts after that point, and (b) the collector sees each thread's counter
// as it was at that point, together with everything the thread wrote before it. A thread whose
// counter is even was outside any operation; one whose counter is odd is waited for until the
// counter changes. When every thread has been seen outside, no operation that could have missed
// the announcement is still running.
#include "mutator_registry.h"

#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "cyclegc/mutator.h"
#include "gc_state.h"

namespace cyclegc::detail {

thread_local MutatorRecord t_mutator __attribute__((tls_model("initial-exec"))) = {{0}, 0, false};
std::atomic<int> g_collecting{0};

namespace {

struct Registry {
  std::mutex mu;
  std::vector<MutatorRecord*> records;
  MutatorRecord* collector = nullptr;
  pthread_key_t exit_key;
  int barrier_cmd = 0;  // the membarrier command that works here, 0 before the first use
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

void deallocate(ObjectHeader* h) {
  const TypeInfo& info = *h->type;
  void* block = reinterpret_cast<char*>(h) - info.block_offset;
  if (info.block_align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(block, std::align_val_t(info.block_align));
  } else {
    ::operator delete(block);
  }
}

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: threads exit after static teardown
  return *r;
}

void unregister_at_exit(void* record) {
  flush_pending_unlinks();  // this thread's last dead objects
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  auto& v = r.records;
  v.erase(std::remove(v.begin(), v.end(), static_cast<MutatorRecord*>(record)), v.end());
  if (r.collector == record) r.collector = nullptr;
  static_cast<MutatorRecord*>(record)->registered = false;
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
  std::lock_guard lock(r.mu);
  static const bool key_ready = [&r] {
    pthread_key_create(&r.exit_key, unregister_at_exit);
    return true;
  }();
  (void)key_ready;
  t_mutator.registered = true;
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

std::size_t other_mutators() {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  std::size_t n = 0;
  for (MutatorRecord* m : r.records) n += (m != &t_mutator && m != r.collector);
  return n;
}

void set_collector_thread_is_current() {
  if (!t_mutator.registered) register_mutator();
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.collector = &t_mutator;
}

void registry_before_fork() { registry().mu.lock(); }
void registry_after_fork_parent() { registry().mu.unlock(); }
void registry_after_fork_child() {
  Registry& r = registry();
  r.records.clear();  // only this thread exists in the child
  if (t_mutator.registered) r.records.push_back(&t_mutator);
  r.collector = nullptr;
  r.mu.unlock();
}

}  // namespace cyclegc::detail
