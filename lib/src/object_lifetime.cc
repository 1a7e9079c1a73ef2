// Birth and death of managed objects: block allocation, registration with the collector, and
// destruction when the strong count reaches zero (finalizer, destructor, then the block once
// no weak reference remains).
//
// Destruction is where refcounting recurses: ~Node releases node.next, whose count reaches zero,
// whose destructor releases its next, and so on, one C++ frame per node. Like CPython's
// "trashcan", a thread that is already kMaxDepth destructions deep parks further objects on a
// thread-local list, and the outermost destruction frees them in a loop. A ten-million-node
// chain therefore dies in constant stack depth.
#include <new>
#include <vector>

#include "cyclegc/make.h"
#include "finalizer.h"
#include "gc_state.h"

namespace cyclegc::detail {
namespace {

constexpr int kMaxDepth = 32;
thread_local int destroy_depth = 0;
thread_local std::vector<ObjectHeader*> deferred;

bool over_aligned(const TypeInfo& info) {
  return info.block_align > __STDCPP_DEFAULT_NEW_ALIGNMENT__;
}

void untrack(ObjectHeader* h) {
  GcState& s = state();
  std::lock_guard lock(s.mu);
  list_remove(h->links());
  auto& g0 = s.generations[0];
  if (g0.count > 0) --g0.count;
}

// The finalizer runs first, while the object is still whole and still tracked (the collector
// treats a tracked object whose count is zero as being destroyed and leaves it alone).
void destroy_now(ObjectHeader* h) noexcept {
  finalize_once(h);
  if (h->type->tracked()) untrack(h);
  h->type->destroy(h->value());
  weak_decref(h);  // the reference all strong references held together
}

}  // namespace

void* allocate_block(const TypeInfo& info) {
  return over_aligned(info) ? ::operator new(info.block_size, std::align_val_t(info.block_align))
                            : ::operator new(info.block_size);
}

void deallocate_block(void* block, const TypeInfo& info) noexcept {
  if (over_aligned(info)) {
    ::operator delete(block, std::align_val_t(info.block_align));
  } else {
    ::operator delete(block);
  }
}

void free_block(ObjectHeader* h) noexcept {
  const TypeInfo& info = *h->type;
  deallocate_block(reinterpret_cast<char*>(h) - info.block_offset, info);
}

void destroy(ObjectHeader* h) noexcept {
  if (destroy_depth >= kMaxDepth) {
    deferred.push_back(h);
    return;
  }
  ++destroy_depth;
  destroy_now(h);
  if (destroy_depth == 1) {
    while (!deferred.empty()) {
      ObjectHeader* next = deferred.back();
      deferred.pop_back();
      destroy_now(next);
    }
  }
  --destroy_depth;
}

void track(ObjectHeader* h) {
  GcState& s = state();
  bool over_threshold;
  {
    std::lock_guard lock(s.mu);
    list_append(h->links(), &s.generations[0].head);
    auto& g0 = s.generations[0];
    ++g0.count;
    over_threshold = s.enabled && g0.threshold > 0 && g0.count > g0.threshold && !s.collecting;
  }
  if (over_threshold) collect_generations();
}

}  // namespace cyclegc::detail
