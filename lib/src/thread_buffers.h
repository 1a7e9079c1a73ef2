// Each thread's births and deaths of tracked objects, reported to the generation lists in
// batches, so that making and dropping an object takes no lock shared with other threads.
//
// Births. make<T>() pushes a new tracked object on its thread's young buffer, with no lock and
// no atomic read-modify-write. The thread hands the whole buffer to generation 0, under the
// state lock, when the buffer is full; when the next object would pass a trigger (the
// generation-0 threshold, pacing, the bytes count), so that a single-threaded program collects
// at the very allocation CPython would; when it settles (before its own collect() and
// introspection); and when it exits. A young object is on no list, so no collection takes it as
// a candidate; a reference from it to a candidate counts as one from outside, which can only
// keep the candidate alive. An object made and dropped between two hand-overs never meets the
// lock: that is make<>() + release at the cost of the allocator.
//
// Who frees a young object's block. The buffer holds a weak reference to each entry, so the
// block stays allocated while it is listed, whichever thread drops the object. kYoung in the
// strong word says "listed, not yet handed over": make<>() sets it and the hand-over clears it
// with a compare-and-swap that also checks the count is not zero. Count and flag share one word,
// so the release that drops the count to zero sees kYoung set exactly when the hand-over has
// not linked the object, and the hand-over then sees the zero and leaves the object off the
// lists: each object is linked at most once and never after it died. A young object that dies
// on its own thread at the top of its buffer (made, used, dropped) is popped and freed at once,
// as a std::make_shared block would be.
//
// Deaths. A tracked object on a generation list dies with its block still linked; its thread
// unlinks a few of them at a time under the lock (every reader of the lists already skips an
// object whose count is zero).
#pragma once

#include <vector>

#include "cyclegc/mutator.h"
#include "cyclegc/object_header.h"

namespace cyclegc::detail {

// track() (declared in object_header.h, called by make<>) pushes the new object here; it may
// hand the buffer over and run or request a collection.

// A tracked object's value has been destroyed: unlinks or frees its block, as its state says.
void bury_tracked(ObjectHeader* h) noexcept;

// Hands the calling thread's young objects to generation 0 and unlinks its dead ones, without
// firing triggers: afterwards the generation lists are exact for this thread. Must not be
// called with the state lock held. Its next birth re-reads the thresholds.
void settle_this_thread() noexcept;

// Around a blocking wait (blocking_calls.cc): while the thread waits, collections on other
// threads may list its young objects, so that a thread that made garbage and then waits for
// hours does not keep it out of every collection. lend_buffers() lends nothing, and returns
// false, when the buffers are empty, already lent, or the thread was interrupted while changing
// them; reclaim_buffers(), called only after a lend that returned true, waits for a collection
// that is listing them.
bool lend_buffers() noexcept;
void reclaim_buffers() noexcept;
// Before a collection: lists the young objects of every thread blocked in a wait.
void adopt_lent_buffers();
// Under the registry lock (mutator_registry.cc): takes a waiting thread's buffers for
// adopt_lent_buffers(), after which the thread cannot leave its wait until they are listed.
bool take_lent(ThreadBuffers* buffers) noexcept;

// At thread exit, after settle_this_thread(): the registry takes the buffers away from the
// thread's record under its lock (so that no collection is reading them) and frees them here.
void free_thread_buffers(ThreadBuffers* buffers) noexcept;

// The registry's side of adopt_lent_buffers(): every registered thread's buffers that
// take_lent() took (mutator_registry.cc).
std::vector<ThreadBuffers*> take_lent_buffers();

// In a forked child, with the state lock held: the buffers of a thread that does not exist in
// the child are handed over on its behalf, so its young objects can still be collected.
void adopt_buffers_of_vanished_thread(ThreadBuffers* buffers) noexcept;

}  // namespace cyclegc::detail
