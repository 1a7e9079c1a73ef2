// The application side of the concurrent-collection protocol (see lib/src/collector.cc for the
// argument). Every operation that creates, drops or relocates a strong reference runs inside an
// OpScope and, while a collection is in progress, "touches" the object it refers to.
//
// OpScope costs two relaxed stores to a thread-local counter (odd while inside an operation),
// which lets the collector wait for a grace period — until every thread has been seen outside an
// operation — instead of stopping threads. The collector pairs these plain stores with
// membarrier(2), so application threads never execute a fence.
#pragma once

#include <atomic>
#include <cstdint>

#include "cyclegc/object_header.h"

namespace cyclegc::detail {

struct ThreadBuffers;  // lib/src/thread_buffers.h

struct MutatorRecord {
  std::atomic<std::uint64_t> seq;  // odd while the thread is inside an OpScope
  std::uint32_t depth;             // OpScopes nest when destructors run inside one
  bool registered;
  bool exempt;  // the background collector thread: never parks, never waited for
  // Safepoints (mutator_registry.cc): how many the thread has passed, whether it is blocked in
  // a wait (blocking_calls.cc), and whether it is parked, waiting for a collection to read
  // containers (written under the registry lock).
  std::atomic<std::uint64_t> safepoints;
  std::atomic<bool> blocked;
  bool parked;
  // Inside a wait of the library's own (collect() waiting for another collection): counted as
  // stopped, but not parked on the way out, where it holds the library's locks.
  bool library_wait;
  // For the conservative scan (still_reachable.h): the thread, taken when it registers, and,
  // while it is parked or blocked, the lowest address of its stack in use, with its registers
  // saved above it (0 while it runs).
  long tid;
  unsigned long thread;  // pthread_t
  std::atomic<std::uintptr_t> stack_mark;
  // The thread's young and dead objects not yet reported to the generation lists. Set by the
  // thread itself, cleared under the registry lock, read by collections under that lock.
  std::atomic<ThreadBuffers*> buffers;
};

// Initial-exec TLS: one %fs-relative access, no __tls_get_addr call on the fast path.
extern thread_local constinit MutatorRecord t_mutator __attribute__((tls_model("initial-exec")));
// Non-zero while some collection needs application threads to report touches.
extern std::atomic<int> g_collecting;
// Set while a collection asks every thread to stop at its next safepoint.
extern std::atomic<bool> g_stop_requested;

void register_mutator();
void reach_safepoint() noexcept;

// A safepoint: the calling thread is not in the middle of changing any container, so a
// collection may read containers while it waits here. make<>() is one (CPython's rule that a
// collection may run at any allocation), and so is every blocking wait (blocking_calls.cc).
inline void safepoint() noexcept {
  MutatorRecord& m = t_mutator;
  m.safepoints.store(m.safepoints.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (g_stop_requested.load(std::memory_order_relaxed)) [[unlikely]]
    reach_safepoint();
}

class OpScope {
 public:
  OpScope() noexcept {
    MutatorRecord& m = t_mutator;
    if (!m.registered) register_mutator();
    if (m.depth++ == 0) {
      m.seq.store(m.seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
  }
  ~OpScope() {
    MutatorRecord& m = t_mutator;
    if (--m.depth == 0) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
      m.seq.store(m.seq.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;
};

// Reports that a reference to `h` is being created, dropped or moved.
inline void touch(ObjectHeader* h) noexcept {
  if (g_collecting.load(std::memory_order_relaxed) != 0) {
    h->strong.fetch_or(ObjectHeader::kDirty, std::memory_order_relaxed);
  }
}

// The strong-reference operations of Ref, AnyRef and Weak::lock, inside the protocol. The
// destruction that a release may trigger runs after the scope closes: a long destructor cascade
// never holds up a grace period (its own nested operations open their own scopes).
inline void ref_acquire(ObjectHeader* h) noexcept {
  OpScope scope;
  touch(h);
  incref(h);
}
inline void ref_release(ObjectHeader* h) noexcept {
  bool last;
  {
    OpScope scope;
    touch(h);
    last = release_is_last(h);
  }
  if (last) destroy(h);
}
// Takes a strong reference unless the object is dead or has one of the `refused` flags: by
// default condemned or about to be (Weak::lock); introspection, which may meet resurrected
// objects, refuses only dead ones.
inline bool ref_try_acquire(ObjectHeader* h,
                            std::uint32_t refused = ObjectHeader::kCondemned |
                                                    ObjectHeader::kTentative) noexcept {
  OpScope scope;
  const std::uint32_t dirty =
      g_collecting.load(std::memory_order_relaxed) != 0 ? ObjectHeader::kDirty : 0;
  std::uint32_t s = h->strong.load(std::memory_order_relaxed);
  do {
    if ((s & ObjectHeader::kCountMask) == 0 || (s & refused)) return false;
    check_strong(h, s);
  } while (!h->strong.compare_exchange_weak(s, (s + 1) | dirty, std::memory_order_acquire,
                                            std::memory_order_relaxed));
  return true;
}

}  // namespace cyclegc::detail
