// The collector's process-wide state: generations, thresholds, counters, debug flags, the
// garbage list and the callbacks. One mutex guards it all; user code (finalizers, destructors,
// callbacks) never runs while it is held, because user code may free objects, and freeing a
// tracked object takes the mutex to unlink it.
#pragma once

#include <array>
#include <cstddef>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
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

  absl::Mutex mu;
  std::array<Generation, kNumGenerations> generations ABSL_GUARDED_BY(mu);
  GcLinks permanent ABSL_GUARDED_BY(mu);
  bool enabled ABSL_GUARDED_BY(mu) = true;
  bool collecting ABSL_GUARDED_BY(mu) = false;
  int debug ABSL_GUARDED_BY(mu) = 0;
  FinalizerPolicy policy ABSL_GUARDED_BY(mu) = FinalizerPolicy::kPep442;
  // CPython's guard against quadratic full collections: objects that survived a generation-1
  // collection since the last full one, and the size of generation 2 after it.
  std::size_t long_lived_pending ABSL_GUARDED_BY(mu) = 0;
  std::size_t long_lived_total ABSL_GUARDED_BY(mu) = 0;
  std::array<GenerationStats, kNumGenerations> stats ABSL_GUARDED_BY(mu);
  std::vector<AnyRef> garbage ABSL_GUARDED_BY(mu);
  std::vector<std::pair<CallbackId, Callback>> callbacks ABSL_GUARDED_BY(mu);
  CallbackId next_callback_id ABSL_GUARDED_BY(mu) = 1;
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
