// Birth and death of managed objects: block allocation and destruction when the strong count
// reaches zero (finalizer, destructor, then the block once no weak reference remains). How a
// tracked object joins and leaves the generation lists is thread_buffers.h's.
//
// Destruction is where refcounting recurses: ~Node releases node.next, whose count reaches zero,
// whose destructor releases its next, and so on, one C++ frame per node. Like CPython's
// "trashcan", a thread that is already kMaxDepth destructions deep parks further objects on a
// thread-local list, and the outermost destruction frees them in a loop. A ten-million-node
// chain therefore dies in constant stack depth.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <vector>

#include "cyclegc/make.h"
#include "cyclegc/observer.h"
#include "finalizer.h"
#include "gc_state.h"
#include "mutator_registry.h"
#include "thread_buffers.h"

namespace cyclegc::detail {
namespace {

constexpr int kMaxDepth = 32;

// The trashcan. Every free reads the depth, so it is an initial-exec int (one %fs-relative
// access, as t_mutator); the list of parked objects is touched only when it is used.
thread_local int destroy_depth __attribute__((tls_model("initial-exec"))) = 0;
thread_local bool parked_any __attribute__((tls_model("initial-exec"))) = false;
thread_local std::vector<ObjectHeader*> parked;

bool over_aligned(const TypeInfo& info) {
  return info.block_align > __STDCPP_DEFAULT_NEW_ALIGNMENT__;
}

}  // namespace

std::atomic<const Observer*> g_observer{nullptr};

// The agent's hooks. The benchmarks build a variant of the library without them
// (CYCLEGC_WITHOUT_OBSERVER) to show that an absent agent costs nothing.
const Observer* observer() {
#ifdef CYCLEGC_WITHOUT_OBSERVER
  return nullptr;
#else
  return g_observer.load(std::memory_order_acquire);
#endif
}

namespace {

// The finalizer runs first, while the object is still whole and still tracked (the collector
// treats a tracked object whose count is zero as being destroyed and leaves it alone).
void destroy_now(ObjectHeader* h) noexcept {
  if (h->type->finalize) finalize_once(h);
  const bool tracked = h->type->tracked();
  if (auto* o = observer(); tracked && o && o->on_untrack) o->on_untrack(h->value());
  h->type->destroy(h->value());
  if (tracked) {
    bury_tracked(h);
  } else {
    weak_decref(h);  // the reference all strong references held together
  }
}

}  // namespace

bool destroying_on_this_thread() noexcept { return destroy_depth > 0; }

void count_overflow(const ObjectHeader* h, const char* which) noexcept {
  std::fprintf(stderr,
               "cyclegc: the %s reference count of %s reached its limit (%u); stopping, because "
               "a count that wrapped would free a live object\n",
               which, debug_repr(h).c_str(),
               which[0] == 's' ? ObjectHeader::kCountMask - 1 : ObjectHeader::kWeakCountMask - 1);
  std::abort();
}

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

// A collection in progress may still read this block's header (through a reference it loaded
// before the last one was dropped), so while one runs the memory is retired, not freed.
void free_block(ObjectHeader* h) noexcept { retire_or_free(h); }

void destroy(ObjectHeader* h) noexcept {
  if (destroy_depth >= kMaxDepth) {
    parked.push_back(h);
    parked_any = true;
    return;
  }
  ++destroy_depth;
  destroy_now(h);
  if (destroy_depth == 1 && parked_any) {
    while (!parked.empty()) {
      ObjectHeader* next = parked.back();
      parked.pop_back();
      destroy_now(next);
    }
    parked_any = false;
  }
  --destroy_depth;
}

}  // namespace cyclegc::detail

namespace cyclegc {
void set_observer(const Observer* observer) {
  detail::g_observer.store(observer, std::memory_order_release);
}
}  // namespace cyclegc
