#include "thread_buffers.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "cyclegc/mutator.h"
#include "cyclegc/observer.h"
#include "gc_state.h"
#include "invariants.h"
#include "mutator_registry.h"

namespace cyclegc::detail {

// 64 births per hand-over: the lock and its cache line cost well under a nanosecond per object,
// and a collection on another thread misses at most 64 of each thread's newest objects. Six
// deaths per unlink: few enough that the blocks freed together still fit glibc's per-thread
// cache (seven of a size), so the next allocations reuse them.
constexpr int kYoungCapacity = 64;
constexpr int kPendingUnlinks = 6;

// An entry of a buffer: the header's address complemented, as a Weak keeps it and as the
// conservative scan (still_reachable.cc) keeps its own, so that the library's bookkeeping, and
// the stale copies a batch leaves behind, never look like a reference the program holds.
using Listed = std::uintptr_t;
inline Listed listed(ObjectHeader* h) { return ~reinterpret_cast<std::uintptr_t>(h); }
inline ObjectHeader* header(Listed w) { return reinterpret_cast<ObjectHeader*>(~w); }

// Allocated when a registered thread first needs it (a pointer in its MutatorRecord, so that the
// initial-exec TLS of a library that may be dlopen()ed stays small), released at thread exit.
struct ThreadBuffers {
  Listed young[kYoungCapacity];
  int young_size = 0;
  int young_limit = 1;  // hand over when young_size reaches it; 1: at the next birth
  Listed dead[kPendingUnlinks];
  int dead_size = 0;
  // Set while the owning thread changes the buffers: a signal handler that blocks in a wait
  // then must not lend them half changed.
  bool busy = false;
  // While the owner is blocked in a wait, its young objects are lent to collections (see
  // lend_buffers): kOwned, kLent, or kAdopting while a collection lists them.
  std::atomic<int> lent{0};
};

namespace {
constexpr int kOwned = 0, kLent = 1, kAdopting = 2;

// Marks the owner's changes to its buffers (see ThreadBuffers::busy).
class Busy {
 public:
  explicit Busy(ThreadBuffers* b) noexcept : b_(b) {
    b_->busy = true;
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  ~Busy() {
    std::atomic_signal_fence(std::memory_order_seq_cst);
    b_->busy = false;
  }
  Busy(const Busy&) = delete;
  Busy& operator=(const Busy&) = delete;

 private:
  ThreadBuffers* b_;
};
}  // namespace

namespace {

// Null when the thread is not registered (exiting) or the allocation failed: every birth and
// death then goes to the lists at once, as a batch of one.
ThreadBuffers* buffers() noexcept {
  MutatorRecord& m = t_mutator;
  ThreadBuffers* b = m.buffers.load(std::memory_order_relaxed);
  if (b == nullptr && m.registered) [[unlikely]] {
    b = new (std::nothrow) ThreadBuffers();
    m.buffers.store(b, std::memory_order_release);  // collections read it (take_lent_buffers)
  }
  return b;
}

// The one transition out of the young state (see the header): fails once the count is zero.
bool clear_young(ObjectHeader* h) noexcept {
  std::uint32_t word = h->strong.load(std::memory_order_relaxed);
  CYCLEGC_INVARIANT(word & ObjectHeader::kYoung, "an object in a young buffer is young");
  do {
    if ((word & ObjectHeader::kCountMask) == 0) return false;
  } while (!h->strong.compare_exchange_weak(word, word & ~ObjectHeader::kYoung,
                                            std::memory_order_relaxed));
  return true;
}

// Drops the buffer's weak reference: for a live object the collective one remains; for a dead
// one the block is freed by whichever of this and its destruction comes last.
void release_listed(const Listed* objects, int n) noexcept {
  for (int i = 0; i < n; ++i) weak_decref(header(objects[i]));
}

// State lock held. Links the live young objects into generation 0.
void link_young_locked(GcState& s, const Listed* objects, int n) {
  auto& g0 = s.generations[0];
  for (int i = 0; i < n; ++i) {
    ObjectHeader* h = header(objects[i]);
    if (!clear_young(h)) continue;
    CYCLEGC_INVARIANT(h->links()->next == nullptr && prev_word(h->links()) == 0,
                      "a young object is on no list until its hand-over");
    list_append(h->links(), &g0.head);
    ++g0.count;
  }
}

// State lock held. Takes dead objects off their lists.
void unlink_dead_locked(GcState& s, const Listed* objects, int n) {
  auto& g0 = s.generations[0];
  for (int i = 0; i < n; ++i) {
    CYCLEGC_INVARIANT(
        header(objects[i])->strong_count() == 0 && header(objects[i])->links()->next != nullptr,
        "an object unlinked at its death is dead and on a list");
    list_remove(header(objects[i])->links());
    if (g0.count > 0) --g0.count;
  }
}

// Adds an allocation to the bytes trigger's count; returns whether the count passed the
// threshold. Threads add to the shared counter in chunks, so that allocating threads do not
// contend on its cache line once per object.
bool count_bytes(std::size_t bytes) {
  constexpr std::size_t kChunk = 64 * 1024;
  thread_local std::size_t unshared __attribute__((tls_model("initial-exec"))) = 0;
  unshared += bytes;
  if (unshared < kChunk) [[likely]]
    return false;
  GcState& s = state();
  const std::size_t total =
      s.bytes_since_collection.fetch_add(unshared, std::memory_order_relaxed) + unshared;
  unshared = 0;
  const std::size_t limit = s.bytes_threshold.load(std::memory_order_relaxed);
  return limit > 0 && total >= limit;
}

// The first tracked object registers the program's end (collector_thread.cc) and, in the
// background mode, starts the collector thread; afterwards this costs one load.
std::atomic<bool> g_started{false};
void start_once() {
  if (g_started.load(std::memory_order_relaxed)) [[likely]]
    return;
  if (!g_started.exchange(true)) {
    register_program_end();
    if (state().background.load(std::memory_order_relaxed)) ensure_collector_thread();
  }
}

// Pacing: a thread that makes garbage faster than the background collector frees it would grow
// the heap without bound. Once generation 0 holds kPacingFactor times its threshold, the
// allocating thread runs the collection itself, after the one in progress — the only case in
// which an application thread waits, and it bounds memory. Two: tests/bench/folder_bench.cc
// measured, on two cores, for a 100k-tree loop: 64 (peak RSS 2.5x that of collecting on the
// allocating thread, 93% of the garbage freed by the loop's end), 8 (1.2x, 98.7%), 4 (1.1x,
// 98.9-99.7%) and 2 (1.05x, 99.4-99.6%).
constexpr long kPacingFactor = 2;

struct Due {
  bool over_threshold, must_pace, enabled;
};

// State lock held. The triggers generation 0 has passed, and how many births may go into the
// buffer before the next one could be passed: objects counted late by at most that many.
Due due_locked(GcState& s, bool background, int* limit) {
  auto& g0 = s.generations[0];
  const bool counting = s.enabled && g0.threshold > 0;
  // Not skipped while a collection runs: the background collector coalesces notifications and
  // re-checks the counts when it gets to them, so a burst during a collection is not lost.
  const bool over = counting && g0.count > g0.threshold;
  const Due due{over, over && g0.count > kPacingFactor * g0.threshold, s.enabled};
  long room = kYoungCapacity;
  if (counting) {
    // The next event: the threshold, or, once the background collector has been told, pacing.
    const long next = !over ? g0.threshold : background ? kPacingFactor * g0.threshold : 0;
    room = next - g0.count + 1;
  }
  *limit = static_cast<int>(std::clamp<long>(room, 1, kYoungCapacity));
  return due;
}

// Hands `objects` (young, listed by the caller) to generation 0 and fires what they passed: on
// the background collector (a notification), or, with the background collector off, on this
// thread.
void hand_over(const Listed* objects, int n, int* limit, bool over_bytes) {
  GcState& s = state();
  const bool background = s.background.load(std::memory_order_relaxed);
  Due due;
  {
    auto lock = lock_for_mutator(s);
    link_young_locked(s, objects, n);
    due = due_locked(s, background, limit);
  }
  release_listed(objects, n);
  over_bytes = over_bytes && due.enabled;
  if (background && !due.must_pace) {
    if (due.over_threshold) notify_collector(Trigger::kThreshold, 0);
    if (over_bytes) notify_collector(Trigger::kBytes, 0);
    return;
  }
  if (due.must_pace) {
    run_collection(0, Trigger::kThreshold, /*wait_if_running=*/true);
  } else if (due.over_threshold) {
    if (int generation = generation_over_threshold(); generation >= 0) {
      run_collection(generation, Trigger::kThreshold, /*wait_if_running=*/false);
    }
  } else if (over_bytes) {
    run_collection(0, Trigger::kBytes, /*wait_if_running=*/false);
  }
}

void unlink_dead(const Listed* objects, int n) noexcept {
  {
    GcState& s = state();
    auto lock = lock_for_mutator(s);
    unlink_dead_locked(s, objects, n);
  }
  release_listed(objects, n);  // the references all strong ones held together: frees
}

// A young object has died. Popped and freed when it is its own thread's newest; otherwise the
// collective weak reference is dropped and the buffer's keeps the block until the hand-over.
void bury_young(ObjectHeader* h) noexcept {
  ThreadBuffers* b = t_mutator.buffers.load(std::memory_order_relaxed);
  constexpr auto kMask = ObjectHeader::kWeakCountMask;
  if (b == nullptr || b->young_size == 0 || b->young[b->young_size - 1] != listed(h)) {
    weak_decref(h);
    return;
  }
  --b->young_size;
  CYCLEGC_INVARIANT((h->weak.load(std::memory_order_relaxed) & kMask) >= 2,
                    "a listed object keeps its buffer's and the collective weak reference");
  // Both references, the buffer's and the collective one: with no Weak left (none can be made
  // from a dead object), no other thread can reach the block.
  if ((h->weak.load(std::memory_order_acquire) & kMask) == 2 ||
      (h->weak.fetch_sub(2, std::memory_order_acq_rel) & kMask) == 2) {
    free_block(h);
  }
  // Entries below that died earlier and whose destruction is over (only the buffer's
  // reference left: a live object also has the collective one) go too.
  while (b->young_size > 0) {
    ObjectHeader* top = header(b->young[b->young_size - 1]);
    if ((top->weak.load(std::memory_order_acquire) & kMask) != 1) break;
    --b->young_size;
    free_block(top);
  }
}

}  // namespace

namespace {

// validate_list for a buffer: every entry young and listed once.
void validate_young(const ThreadBuffers* b) {
  if constexpr (kCheckInvariants) {
    for (int i = 0; i < b->young_size; ++i) {
      CYCLEGC_INVARIANT(
          header(b->young[i])->strong.load(std::memory_order_relaxed) & ObjectHeader::kYoung,
          "every entry of a young buffer is young");
      for (int j = 0; j < i; ++j) {
        CYCLEGC_INVARIANT(b->young[i] != b->young[j], "an object is in a young buffer once");
      }
    }
  }
}

// track()'s slow path, out of line so that the fast path keeps a small frame.
[[gnu::noinline]] void hand_over_buffer(ThreadBuffers* b, bool over_bytes) {
  validate_young(b);
  Listed batch[kYoungCapacity];
  int n;
  {
    Busy busy(b);
    // Emptied before the hand-over, which may run a collection, and the collection's
    // finalizers make objects on this thread.
    n = std::exchange(b->young_size, 0);
    std::copy_n(b->young, n, batch);
  }
  hand_over(batch, n, &b->young_limit, over_bytes);
}

}  // namespace

void track(ObjectHeader* h) {
  new (h->links()) GcLinks{nullptr, {0}};
  if (auto* o = observer(); o && o->on_track) [[unlikely]] {
    o->on_track(h->value(), h->type->name(), h->type->value_size);
  }
  start_once();
  const bool over_bytes = count_bytes(h->type->block_size);
  ThreadBuffers* b = buffers();
  if (b == nullptr) [[unlikely]] {
    int unused;
    const Listed one = listed(h);
    hand_over(&one, 1, &unused, over_bytes);
    return;
  }
  {
    Busy busy(b);
    b->young[b->young_size++] = listed(h);
  }
  if (b->young_size >= b->young_limit || over_bytes) [[unlikely]]
    hand_over_buffer(b, over_bytes);
}

void bury_tracked(ObjectHeader* h) noexcept {
  if (h->strong.load(std::memory_order_relaxed) & ObjectHeader::kYoung) {
    bury_young(h);
    return;
  }
  if (is_detached(h->links())) {  // garbage the collector took off every list
    weak_decref(h);
    return;
  }
  ThreadBuffers* b = buffers();
  if (b == nullptr) [[unlikely]] {
    const Listed one = listed(h);
    unlink_dead(&one, 1);
    return;
  }
  Listed batch[kPendingUnlinks];
  {
    Busy busy(b);
    b->dead[b->dead_size++] = listed(h);
    if (b->dead_size < kPendingUnlinks) return;
    std::copy_n(b->dead, kPendingUnlinks, batch);
    b->dead_size = 0;
  }
  unlink_dead(batch, kPendingUnlinks);
}

namespace {

// Empties `b` into the lists. The entries are taken out first, so that whatever interrupts this
// (a signal handler, a collection adopting lent buffers) finds only what is left to do.
void settle(GcState& s, ThreadBuffers* b, bool lock_held) noexcept {
  Listed young[kYoungCapacity] = {};  // initialized: GCC -O3 cannot see the copies
  Listed dead[kPendingUnlinks] = {};
  int young_n, dead_n;
  {
    Busy busy(b);
    b->young_limit = 1;
    young_n = std::exchange(b->young_size, 0);
    dead_n = std::exchange(b->dead_size, 0);
    std::copy_n(b->young, young_n, young);
    std::copy_n(b->dead, dead_n, dead);
  }
  if (young_n == 0 && dead_n == 0) return;
  {
    std::unique_lock<std::mutex> lock;
    if (!lock_held) lock = lock_for_mutator(s);
    link_young_locked(s, young, young_n);
    unlink_dead_locked(s, dead, dead_n);
  }
  release_listed(young, young_n);
  release_listed(dead, dead_n);
}

}  // namespace

void settle_this_thread() noexcept {
  if (ThreadBuffers* b = t_mutator.buffers.load(std::memory_order_relaxed))
    settle(state(), b, /*lock_held=*/false);
}

bool lend_buffers() noexcept {
  ThreadBuffers* b = t_mutator.buffers.load(std::memory_order_relaxed);
  if (b == nullptr || b->busy || b->young_size == 0) return false;
  int expected = kOwned;  // not lent already, by a wait this one interrupted
  return b->lent.compare_exchange_strong(expected, kLent, std::memory_order_release);
}

void reclaim_buffers() noexcept {
  ThreadBuffers* b = t_mutator.buffers.load(std::memory_order_relaxed);
  int expected = kLent;
  if (b->lent.compare_exchange_strong(expected, kOwned, std::memory_order_acquire)) return;
  // A collection is listing them: a few microseconds at most.
  while (b->lent.load(std::memory_order_acquire) == kAdopting) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

bool take_lent(ThreadBuffers* b) noexcept {
  int expected = kLent;
  return b != nullptr &&
         b->lent.compare_exchange_strong(expected, kAdopting, std::memory_order_acquire);
}

void adopt_lent_buffers() {
  std::vector<ThreadBuffers*> taken = take_lent_buffers();
  if (taken.empty()) return;
  GcState& s = state();
  for (ThreadBuffers* b : taken) {
    settle(s, b, /*lock_held=*/false);
    b->lent.store(kOwned, std::memory_order_release);
  }
}

void free_thread_buffers(ThreadBuffers* b) noexcept { delete b; }

void adopt_buffers_of_vanished_thread(ThreadBuffers* b) noexcept {
  if (b == nullptr) return;
  settle(state(), b, /*lock_held=*/true);
  delete b;
}

}  // namespace cyclegc::detail
