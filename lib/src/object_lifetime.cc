// Birth and death of managed objects: block allocation, registration with the collector, and
// destruction when the strong count reaches zero (finalizer, destructor, then the block once
// no weak reference remains).
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

namespace cyclegc::detail {
namespace {

constexpr int kMaxDepth = 32;

// The first tracked object registers the program's end (collector_thread.cc) and, in the
// background mode, starts the collector thread; afterwards this costs one load.
void start_once(bool background) {
  static std::atomic<bool> started{false};
  if (!started.load(std::memory_order_relaxed) && !started.exchange(true)) {
    register_program_end();
    if (background) ensure_collector_thread();
  }
}
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

// Taking a dead object off its generation list needs the state lock, so a thread gathers the
// tracked objects it destroys and unlinks them kPendingUnlinks at a time: most frees take no
// lock. Few at a time, so that the blocks freed together fit glibc's per-thread cache (seven
// of a size) and the next allocations reuse them. Until then the object stays linked with a count
// of zero and its value destroyed, which every reader of the lists already handles (pinning and
// introspection refuse a zero count), and its block stays allocated (the unlink needs its links):
// the reference all strong references held together is dropped at the unlink.
constexpr int kPendingUnlinks = 6;
struct PendingUnlinks {
  ObjectHeader* objects[kPendingUnlinks];
  int size;
};
thread_local PendingUnlinks t_pending __attribute__((tls_model("initial-exec"))) = {{}, 0};

}  // namespace

void flush_pending_unlinks() noexcept {
  PendingUnlinks& p = t_pending;
  if (p.size == 0) return;
  {
    GcState& s = state();
    auto lock = lock_for_mutator(s);
    auto& g0 = s.generations[0];
    for (int i = 0; i < p.size; ++i) {
      list_remove(p.objects[i]->links());
      if (g0.count > 0) --g0.count;
    }
  }
  for (int i = 0; i < p.size; ++i) weak_decref(p.objects[i]);  // frees; runs no user code
  p.size = 0;
}

namespace {

// The finalizer runs first, while the object is still whole and still tracked (the collector
// treats a tracked object whose count is zero as being destroyed and leaves it alone).
void destroy_now(ObjectHeader* h) noexcept {
  finalize_once(h);
  const bool tracked = h->type->tracked();
  if (auto* o = observer(); tracked && o && o->on_untrack) o->on_untrack(h->value());
  const bool linked = tracked && !is_detached(h->links());  // else: garbage the collector freed
  h->type->destroy(h->value());
  if (!linked) {
    weak_decref(h);  // the reference all strong references held together
    return;
  }
  PendingUnlinks& p = t_pending;
  p.objects[p.size++] = h;
  if (p.size == kPendingUnlinks) flush_pending_unlinks();
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

namespace {

// Adds an allocation to the bytes trigger's count; returns whether the count passed the
// threshold. Threads add to the shared counter in chunks, so that allocating threads do not
// contend on its cache line once per object.
bool count_bytes(GcState& s, std::size_t bytes) {
  constexpr std::size_t kChunk = 64 * 1024;
  thread_local std::size_t unshared __attribute__((tls_model("initial-exec"))) = 0;
  unshared += bytes;
  if (unshared < kChunk) return false;
  const std::size_t total =
      s.bytes_since_collection.fetch_add(unshared, std::memory_order_relaxed) + unshared;
  unshared = 0;
  const std::size_t limit = s.bytes_threshold.load(std::memory_order_relaxed);
  return limit > 0 && total >= limit;
}

}  // namespace

// Registers a new tracked object in generation 0 and fires the triggers it passes: on the
// background collector (a notification), or, with the background collector off, on this thread.
//
// Pacing: a thread that makes garbage faster than the background collector frees it would grow
// the heap without bound. Once generation 0 holds kPacingFactor times its threshold, the
// allocating thread runs the collection itself, after the one in progress — the only case in
// which an application thread waits, and it bounds memory. Two: tests/bench/folder_bench.cc
// measured, on two cores, for a 100k-tree loop: 64 (peak RSS 2.5x that of collecting on the
// allocating thread, 93% of the garbage freed by the loop's end), 8 (1.2x, 98.7%), 4 (1.1x,
// 98.9-99.7%) and 2 (1.05x, 99.4-99.6%).
void track(ObjectHeader* h) {
  constexpr long kPacingFactor = 2;
  GcState& s = state();
  bool over_threshold, must_pace, enabled;
  {
    auto lock = lock_for_mutator(s);
    new (h->links()) GcLinks{nullptr, {0}};
    list_append(h->links(), &s.generations[0].head);
    auto& g0 = s.generations[0];
    ++g0.count;
    // Not skipped while a collection runs: the background collector coalesces notifications and
    // re-checks the counts when it gets to them, so a burst during a collection is not lost.
    over_threshold = s.enabled && g0.threshold > 0 && g0.count > g0.threshold;
    must_pace = over_threshold && g0.count > kPacingFactor * g0.threshold;
    enabled = s.enabled;
  }
  if (auto* o = observer(); o && o->on_track) {
    o->on_track(h->value(), h->type->name(), h->type->value_size);
  }
  const bool background = s.background.load(std::memory_order_relaxed);
  start_once(background);
  const bool over_bytes = enabled && count_bytes(s, h->type->block_size);
  if (background && !must_pace) {
    if (over_threshold) notify_collector(Trigger::kThreshold, 0);
    if (over_bytes) notify_collector(Trigger::kBytes, 0);
    return;
  }
  if (must_pace) {
    run_collection(0, Trigger::kThreshold, /*wait_if_running=*/true);
  } else if (over_threshold) {
    if (int generation = generation_over_threshold(); generation >= 0) {
      run_collection(generation, Trigger::kThreshold, /*wait_if_running=*/false);
    }
  } else if (over_bytes) {
    run_collection(0, Trigger::kBytes, /*wait_if_running=*/false);
  }
}

}  // namespace cyclegc::detail

namespace cyclegc {
void set_observer(const Observer* observer) {
  detail::g_observer.store(observer, std::memory_order_release);
}
}  // namespace cyclegc
