// The collector's side of the mutator protocol (include/cyclegc/mutator.h): which threads have
// used references, and waiting for a grace period across all of them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "cyclegc/mutator.h"
#include "cyclegc/object_header.h"

namespace cyclegc::detail {

// Starts a phase in which application threads report every touch, and returns once every
// operation that began before it has finished (so none can have missed the announcement).
void begin_collecting();
// Waits until every operation in progress has finished: afterwards every touch made so far is
// visible, and every operation still to come will see the collector's latest writes.
void await_quiescence();
void end_collecting();

// Stops every other registered thread at a safepoint (make<>, or a wait), so that the caller
// may read containers: returns true once all are parked or blocked, and the stop lasts until
// resume_mutators(). Returns false, stopping nothing, when a thread did not get there within
// `patience` — or at once, when the thread that failed the last stop has passed no safepoint
// since.
bool stop_mutators(std::chrono::microseconds patience);
void resume_mutators();
// What makes a make<>() call not a safepoint: the thread is running a destructor (a container
// may be in the middle of erasing) or a collection (object_lifetime.cc, collector.cc).
bool destroying_on_this_thread() noexcept;
bool collecting_on_this_thread() noexcept;
// The calling thread's record when it is registered and at a safepoint where it stands, or
// null.
MutatorRecord* mutator_at_safepoint() noexcept;
// Records where a thread about to park or block keeps its references (MutatorRecord::stack_mark):
// its stack from the calling function's frame up, with every register its callers left in use
// spilled into that frame. Always inlined, so that the frame is the caller's, which stays put
// while the thread waits.
[[gnu::always_inline]] inline void mark_stack(MutatorRecord& m) noexcept {
  __builtin_unwind_init();
  volatile char here = 0;  // among the caller's locals, below the registers it saved
  m.stack_mark.store(reinterpret_cast<std::uintptr_t>(&here), std::memory_order_relaxed);
}

// Does nothing; calling it makes a static link take blocking_calls.cc, whose definitions no
// program calls by name.
void link_blocking_calls();

// Marks a wait of the library's own (collect() waiting for another collection): the thread
// counts as stopped while it waits, but does not park on its way out, where it holds the
// library's locks and returns into the library, not the program.
class LibraryWait {
 public:
  LibraryWait() noexcept;
  ~LibraryWait();
  LibraryWait(const LibraryWait&) = delete;
  LibraryWait& operator=(const LibraryWait&) = delete;

 private:
  bool outer_;  // nested waits restore it
};

// Live threads, other than the caller and the collector thread, that have used references:
// when there are none, plain containers can be traced (nothing can be mutating them).
std::size_t other_mutators();
// The calling thread is the background collector, from now on: exempt from stops, and what
// is_collector_thread() answers. The one record of which thread collects.
void mark_collector_thread();
bool is_collector_thread();

// The registered threads other than the collector thread, for the conservative scan
// (still_reachable.cc). `mark` is the thread's stack mark (mark_stack) when it is parked or
// blocked now, else 0.
struct RegisteredThread {
  long tid;
  unsigned long thread;  // pthread_t
  std::uintptr_t mark;
  bool current;  // the calling thread
};
std::vector<RegisteredThread> registered_threads();

// Initializes the registry while the library loads (see AtLoad in collector_thread.cc).
void registry_at_load();
// fork(): the child keeps only the calling thread's record.
void registry_before_fork();
void registry_after_fork_parent();
void registry_after_fork_child();

// Frees the object's block, or, while a collection may still read its header, keeps it until
// the collection ends.
void retire_or_free(ObjectHeader* h) noexcept;

}  // namespace cyclegc::detail
