// The collector's side of the mutator protocol (include/cyclegc/mutator.h): which threads have
// used references, and waiting for a grace period across all of them.
#pragma once

#include <cstddef>

#include "cyclegc/object_header.h"

namespace cyclegc::detail {

// Starts a phase in which application threads report every touch, and returns once every
// operation that began before it has finished (so none can have missed the announcement).
void begin_collecting();
// Waits until every operation in progress has finished: afterwards every touch made so far is
// visible, and every operation still to come will see the collector's latest writes.
void await_quiescence();
void end_collecting();

// Live threads, other than the caller and the collector thread, that have used references:
// when there are none, plain containers can be traced (nothing can be mutating them).
std::size_t other_mutators();
void set_collector_thread_is_current();

// fork(): the child keeps only the calling thread's record.
void registry_before_fork();
void registry_after_fork_parent();
void registry_after_fork_child();

// Frees the object's block, or, while a collection may still read its header, keeps it until
// the collection ends.
void retire_or_free(ObjectHeader* h) noexcept;

}  // namespace cyclegc::detail
