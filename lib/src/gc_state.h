// The collector's process-wide state: generations, thresholds, counters, debug flags, the
// garbage list and the callbacks. One mutex guards it all; user code (finalizers, destructors,
// callbacks) never runs while it is held, because user code may free objects, and freeing a
// tracked object takes the mutex to unlink it.
#pragma once

#include <array>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

#include "cyclegc/gc.h"
#include "cyclegc/object_header.h"
#include "gc_list.h"

namespace cyclegc::detail {

struct Generation {
  GcLinks head;
  long threshold;
  long count;
};

struct GcState {
  GcState();

  // Guards every field below. A std::mutex rather than absl::Mutex: the Debian abseil build is
  // not ThreadSanitizer-instrumented, so TSan cannot see its happens-before edges and would
  // report the guarded accesses as races; pthread mutexes are intercepted by TSan.
  std::mutex mu;
  std::array<Generation, kNumGenerations> generations;
  GcLinks permanent;
  bool enabled = true;
  bool collecting = false;
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
};

// Never destroyed: objects may be freed by static destructors after every other static is gone.
GcState& state();

// Runs CPython's collect_generations policy: the oldest generation over its threshold.
void collect_generations();
// The full collection of one generation, with callbacks (gc_collect_with_callback).
std::size_t collect_with_callback(int generation);

// "<Graph 0x...>" as CPython's debug output prints objects.
std::string debug_repr(const ObjectHeader* h);

}  // namespace cyclegc::detail
