// The cycle collector: CPython's gcmodule.c algorithm, made safe to run while application threads
// keep copying, moving and dropping references. One phase per function, in the order
// collect_main() runs them:
//
//   detach_generations  the generations collected become a private list; new objects go to a
//                       fresh generation 0
//   begin_collecting    threads start reporting touches; wait for a grace period
//   pin_candidates      take a reference to each candidate (so none is destroyed while the
//                       collection reads it), record its count as gc_refs, clear its dirty bit
//   trace_candidates    subtract_refs: gc_refs -= 1 for each reference from another
//                       candidate; each edge between candidates is recorded once, so every
//                       later phase reasons about the same edges. When candidates hold
//                       containers and other threads run, it stops them at safepoints first
//   move_unreachable    candidates with gc_refs > 0, and all they reach, are reachable
//   promote_survivors   reachable candidates move to the next generation
//   await_quiescence    every operation that started during the analysis has finished
//   validate_unreachable  each unreachable candidate is marked tentative (Weak::lock refuses
//                       it); any that was touched since it was pinned is live after all, with
//                       everything it reaches; the rest is garbage
//   move_legacy_finalizers   legacy policy only: objects with finalizers, and all they reach,
//                       become uncollectable
//   condemn             garbage is condemned: weak references read empty from now on
//   finalize_garbage    finalize() runs once per object (PEP 442)
//   handle_resurrected  trial deletion again: what a finalizer made reachable survives, no
//                       longer condemned (weak references made from then on work)
//   delete_garbage      each garbage object's Ref fields are cleared, then the collector drops
//                       its references and refcounting frees the objects
//   end_collecting      blocks freed during the collection are released
//
// Why no live object is freed. Call an object "touched" if, after it was pinned, any thread
// created, dropped or moved a strong reference to it, or upgraded a weak one. Every such
// operation runs inside an OpScope and, once begin_collecting() has returned, sets the object's
// kDirty bit (mutator.h); begin_collecting()'s grace period guarantees that no operation which
// missed the announcement is still running when pinning starts, and await_quiescence() that
// every operation started before validation has finished and is visible. Let G be the objects
// that validation declares garbage: each was untouched from its pinning until validation marked
// it tentative. While an object is untouched, the set of references to it is frozen — none is
// created, destroyed or moved — so its pinned count was exact and the references subtract_refs
// found were really there; since its count equals the references found inside the candidates,
// every reference to it lies in a candidate's field. A reference to a member of G from a
// candidate outside G would have made validation mark it live (validation closes liveness over
// the recorded edges), so in the interval after the last pin and before the first tentative
// mark, every reference to a member of G lay in a member of G. Nothing outside G referred to G:
// it was unreachable. From then on no new reference can appear: copying or moving needs an
// existing reference, which only G holds, and Weak::lock() fails on tentative and condemned
// objects (an upgrade that succeeded before the tentative mark touched the object, and
// validation saw it). Hence G stays unreachable, and freeing it is safe. The contract this
// relies on, the one std::shared_ptr users already follow: a raw pointer or C++ reference to a
// managed object is used only while the object is reachable from a Ref the program holds.
//
// Young objects. Before the phases, run_collection hands the calling thread's young objects to
// generation 0, and those of every thread blocked in a wait (thread_buffers.h); the rest stay in
// their threads' buffers, on no list. A young object is therefore never a candidate: never
// pinned, condemned or freed by a collection. A reference from it to a candidate is not
// subtracted, so the candidate counts as held from outside — the direction that can only keep
// objects alive — and the argument above holds with G drawn from the candidates alone. A
// hand-over during a collection links objects into the fresh generation 0, which the collection
// does not own.
//
// Why no freed memory is read. Candidates are pinned, so no thread destroys one during the
// collection. The collector also reads the header of any object a candidate's field points to;
// such an object may be freed concurrently, so while a collection runs, freed blocks are retired
// instead of returned to the allocator (the decision, too, sits inside an OpScope covered by the
// grace period). A container (visitor.h) is read only when no other thread can be changing it:
// when no other thread uses cyclegc, or while every other registered thread is stopped — parked
// at a safepoint or blocked in a wait (mutator_registry.cc). A safepoint is a call to make<>()
// outside any destructor, where std containers are never mid-change (CPython's rule that a
// collection may run at any allocation); a thread registers with its first reference
// operation, and cannot register during a stop. Otherwise the object counts as a root this
// round (counted as unreadable); Guarded<T> is read under its lock.
//
// Why stopping keeps the argument true. While the threads are stopped nothing changes: no
// operation is in progress (a parked or blocked thread is outside every OpScope), so the
// edges read are exactly those of that moment, and a pass redone under a stop records each
// count afresh with its dirty bit cleared (update_refs_pinned), as pinning would at that
// moment. The argument above then holds with "pinned" read as "counted". After the stop,
// containers may change again, but only through access to their owner: garbage is
// unreachable at the moment of the stop, and a container of a garbage object can only be
// reached through a reference — which only garbage holds — so no thread changes one.
//
// Every traversal is iterative, so graph depth never grows the C++ stack.
#include <chrono>
#include <cstdio>
#include <future>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "cyclegc/gc.h"
#include "cyclegc/testing_hooks.h"
#include "finalizer.h"
#include "gc_list.h"
#include "gc_state.h"
#include "invariants.h"
#include "mutator_registry.h"
#include "thread_buffers.h"

namespace cyclegc::detail {
namespace {

std::atomic<testing::CollectorHook> g_hook{nullptr};
void call_hook(testing::HookPoint point, ObjectHeader* h) {
  if (auto hook = g_hook.load(std::memory_order_acquire)) hook(point, h->value());
}

// GcLinks::prev of a candidate while the collection owns it: flags, its index in the analysis
// (which locates its recorded edges), and gc_refs. User-space pointers never set bits 61-63, so an
// object whose prev has kCollecting set is a candidate; any other object is outside the collection.
constexpr std::uintptr_t kCollecting = std::uintptr_t{1} << 63;
constexpr std::uintptr_t kReachable = std::uintptr_t{1} << 62;
constexpr std::uintptr_t kRoot = std::uintptr_t{1} << 61;
constexpr int kIndexShift = 32;
constexpr std::uintptr_t kIndexMask = ((std::uintptr_t{1} << 29) - 1) << kIndexShift;
constexpr std::uintptr_t kRefsMask = 0xffffffff;

std::size_t index_of(const GcLinks* l) { return (prev_word(l) & kIndexMask) >> kIndexShift; }
bool is_candidate(ObjectHeader* r) {
  return r->type->tracked() && (prev_word(r->links()) & kCollecting);
}
void trace(ObjectHeader* h, Visitor& v) { h->type->trace(h->value(), v); }
void set_flag(GcLinks* l, std::uintptr_t flag) { set_prev_word(l, prev_word(l) | flag); }

// The state of one trial deletion: the edges between candidates, in one array where candidate
// i's run from starts[i] to starts[i + 1], and the candidates found reachable and unreachable.
struct Analysis {
  bool concurrent = false;     // other threads may be changing containers: do not read them
  bool met_container = false;  // a trace reached a container (read or not)
  std::size_t unreadable = 0;  // candidates kept because part of them could not be read
  std::vector<ObjectHeader*> edges;
  std::vector<std::uint32_t> starts;  // by candidate index, and one past the last
  std::vector<GcLinks*> unreachable;
  std::vector<ObjectHeader*> reachable;
};

class RecordingVisitor final : public Visitor {
 public:
  RecordingVisitor(Analysis& a) : a_(a) { concurrent_ = a.concurrent; }
  // Traces one candidate; returns false when part of it could not be read.
  bool record(ObjectHeader* h) {
    untraceable_ = false;
    met_container_ = false;
    trace(h, *this);
    if (met_container_) {
      a_.met_container = true;
      if (!h->type->reads_containers.load(std::memory_order_relaxed)) {
        h->type->reads_containers.store(true, std::memory_order_relaxed);
      }
    }
    return !untraceable_;
  }

 private:
  void visit(const char*, std::size_t, Slot& slot) override {
    ObjectHeader* r = slot.header.load(std::memory_order_acquire);
    if (!r || !is_candidate(r)) return;
    GcLinks* l = r->links();
    if (prev_word(l) & kRefsMask) set_prev_word(l, prev_word(l) - 1);
    a_.edges.push_back(r);
  }
  Analysis& a_;
};

// The list the collection owns: the generations collected, merged.
void detach_generations(GcState& s, int generation, GcLinks* young) {
  auto& gens = s.generations;
  if (generation + 1 < kNumGenerations) gens[generation + 1].count += 1;
  for (int i = 0; i <= generation; ++i) {
    gens[i].count = 0;
    list_merge(&gens[i].head, young);
  }
}

// Pins every candidate and records gc_refs. A candidate whose count is already zero is being
// destroyed by another thread; it goes back to `old`, where that thread will unlink it. The
// list is walked in short batches under the lock, because such a thread may be unlinking a
// candidate that has not been reached yet; `cursor` is always a pinned node, which nobody else
// unlinks.
struct Pinned {
  std::size_t count = 0;
  bool reads_containers = false;  // a candidate's type is known to reach containers
};
Pinned pin_candidates(GcState& s, GcLinks* young, GcLinks* old) {
  constexpr int kBatch = 1024;
  GcLinks* cursor = young;
  Pinned pinned_total;
  for (;; yield_to_mutators(s)) {
    std::lock_guard lock(s.mu);
    s.collector_batch.store(true, std::memory_order_relaxed);
    // Cleared before the lock is released (destructors run in reverse order).
    struct EndBatch {
      GcState& s;
      ~EndBatch() { s.collector_batch.store(false, std::memory_order_relaxed); }
    } end_batch{s};
    for (int n = 0; n < kBatch; ++n) {
      GcLinks* l = cursor->next;
      if (l == young) return pinned_total;
      ObjectHeader* h = ObjectHeader::from_links(l);
      std::uint32_t word = h->strong.load(std::memory_order_relaxed);
      CYCLEGC_INVARIANT(!(word & ObjectHeader::kYoung),
                        "an object on a generation list is not in a young buffer");
      bool pinned = false;
      while ((word & ObjectHeader::kCountMask) != 0) {
        check_strong(h, word);
        if (h->strong.compare_exchange_weak(word, (word + 1) & ~ObjectHeader::kDirty,
                                            std::memory_order_acquire, std::memory_order_relaxed)) {
          pinned = true;
          break;
        }
      }
      if (!pinned) {
        list_move(l, old);
        continue;
      }
      set_prev_word(l, kCollecting | (word & ObjectHeader::kCountMask));
      cursor = l;
      ++pinned_total.count;
      pinned_total.reads_containers |= h->type->reads_containers.load(std::memory_order_relaxed);
    }
  }
}

// Records gc_refs (the count minus the collector's pin) for candidates already pinned, and
// clears their dirty bits: the start of a second trial deletion (after finalizers).
void update_refs_pinned(GcLinks* list) {
  for (GcLinks* l = list->next; l != list; l = l->next) {
    ObjectHeader* h = ObjectHeader::from_links(l);
    std::uint32_t word = h->strong.fetch_and(~ObjectHeader::kDirty, std::memory_order_acquire);
    set_prev_word(l, kCollecting | ((word & ObjectHeader::kCountMask) - 1));
  }
}

void subtract_refs(GcLinks* list, Analysis& a) {
  RecordingVisitor visitor(a);
  for (GcLinks* l = list->next; l != list; l = l->next) {
    set_prev_word(l, (prev_word(l) & ~kIndexMask) | (a.starts.size() << kIndexShift));
    a.starts.push_back(static_cast<std::uint32_t>(a.edges.size()));
    // An object that could not be read completely keeps everything alive this round: it is a
    // root, and the references it holds that were not seen were not subtracted.
    if (!visitor.record(ObjectHeader::from_links(l))) {
      set_flag(l, kRoot);
      ++a.unreadable;
    }
    call_hook(testing::HookPoint::kTraced, ObjectHeader::from_links(l));
  }
  a.starts.push_back(static_cast<std::uint32_t>(a.edges.size()));
}

// subtract_refs over the candidates, with the other threads stopped at safepoints when that is
// what reading their containers takes (mutator_registry.cc): when a candidate's type is known
// to reach containers, the threads are stopped first; when a type meets its first container in
// a concurrent pass, that pass is redone under a stop, its counts recorded afresh while nothing
// moves (update_refs_pinned). A stop that cannot be had leaves containers unread: their owners
// are roots this round, counted in a.unreadable.
void trace_candidates(GcLinks* young, Analysis& a, bool reads_containers) {
  constexpr auto kPatience = std::chrono::milliseconds(2);
  bool stopped = a.concurrent && reads_containers && stop_mutators(kPatience);
  if (stopped) a.concurrent = false;
  subtract_refs(young, a);
  if (a.concurrent && a.met_container && stop_mutators(kPatience)) {
    stopped = true;
    a.concurrent = false;
    a.edges.clear();
    a.starts.clear();
    a.unreadable = 0;
    update_refs_pinned(young);
    subtract_refs(young, a);
  }
  if (stopped) resume_mutators();
}

// Marks everything reachable from the objects on `stack` over the recorded edges. Only objects
// that still hold their scratch word (kCollecting) are marked: the others have left the
// analysis (survivors already relinked into a generation).
void mark_reachable_from(std::vector<GcLinks*>& stack, const Analysis& a) {
  while (!stack.empty()) {
    GcLinks* l = stack.back();
    stack.pop_back();
    const std::size_t index = index_of(l);
    for (std::size_t i = a.starts[index]; i < a.starts[index + 1]; ++i) {
      GcLinks* target = a.edges[i]->links();
      const std::uintptr_t w = prev_word(target);
      if ((w & kCollecting) && !(w & kReachable)) {
        set_flag(target, kReachable);
        stack.push_back(target);
      }
    }
  }
}

// Splits `list` by reachability: the reachable objects stay (relinked, listed in
// a.reachable); the others are listed in a.unreachable, still holding their scratch words.
void move_unreachable(GcLinks* list, Analysis& a) {
  std::vector<GcLinks*> stack;
  for (GcLinks* l = list->next; l != list; l = l->next) {
    if ((prev_word(l) & kRefsMask) > 0 || (prev_word(l) & kRoot)) {
      set_flag(l, kReachable);
      stack.push_back(l);
    }
  }
  mark_reachable_from(stack, a);
  GcLinks* kept = list;
  for (GcLinks* l = list->next; l != list; l = l->next) {
    if (prev_word(l) & kReachable) {
      kept->next = l;
      kept = l;
      a.reachable.push_back(ObjectHeader::from_links(l));
    } else {
      a.unreachable.push_back(l);
    }
  }
  kept->next = list;  // the reachable objects only; relinked by promote_survivors()
}

}  // namespace

// Waits until the application threads blocked on the lock have had it, for at most half a
// millisecond a batch (threads that never stop allocating must not starve the collection). A
// woken thread can take tens of microseconds to be scheduled, so a few yields are not enough.
void yield_to_mutators(GcState& s) {
  if (s.waiters.load(std::memory_order_relaxed) == 0) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(500);
  while (s.waiters.load(std::memory_order_relaxed) > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
}

namespace {

// Drops the collector's pins. Runs without the lock: a pin may be the last reference.
void release_pins(const std::vector<ObjectHeader*>& objects) {
  for (ObjectHeader* h : objects) decref(h);
}

// Moves the objects the analysis found reachable (the rest of `list`) to `old` and lets go of
// them.
void promote_survivors(GcState& s, GcLinks* list, GcLinks* old, Analysis& a) {
  list_relink(list);
  {
    std::lock_guard lock(s.mu);
    list_merge(list, old);
  }
  release_pins(a.reachable);
  a.reachable.clear();
}

// CPython's guard against quadratic full collections (generation_over_threshold): survivors of
// a generation-1 collection await their first full one; a full collection resets the count and
// records the size of the oldest generation.
void account_long_lived(GcState& s, int generation, std::size_t survivors) {
  std::lock_guard lock(s.mu);
  if (generation == kNumGenerations - 2) s.long_lived_pending += survivors;
  if (generation == kNumGenerations - 1) {
    s.long_lived_pending = 0;
    s.long_lived_total = survivors;
  }
}

// Decides which unreachable candidates are garbage (see the argument at the top). Live ones go
// to `old`; garbage is returned as a list in `garbage`. Call after await_quiescence(). Returns
// how many were found live.
std::size_t validate_unreachable(GcState& s, Analysis& a, GcLinks* garbage, GcLinks* old,
                                 bool mark_tentative) {
  std::vector<GcLinks*> stack;
  for (GcLinks* l : a.unreachable) {
    ObjectHeader* h = ObjectHeader::from_links(l);
    std::uint32_t word =
        mark_tentative ? h->strong.fetch_or(ObjectHeader::kTentative, std::memory_order_acq_rel)
                       : h->strong.load(std::memory_order_acquire);
    if ((word & ObjectHeader::kDirty) && !(prev_word(l) & kReachable)) {
      set_flag(l, kReachable);
      stack.push_back(l);
    }
  }
  mark_reachable_from(stack, a);
  std::vector<ObjectHeader*> live;
  list_init(garbage);
  GcLinks revived;
  list_init(&revived);
  for (GcLinks* l : a.unreachable) {
    ObjectHeader* h = ObjectHeader::from_links(l);
    if (prev_word(l) & kReachable) {
      // A live object loses the flag this pass put on it: tentative in the first, condemned
      // (set by condemn) when it was resurrected.
      h->strong.fetch_and(mark_tentative ? ~ObjectHeader::kTentative : ~ObjectHeader::kCondemned,
                          std::memory_order_release);
      call_hook(testing::HookPoint::kRevived, h);
      live.push_back(h);
      list_append(l, &revived);
    } else {
      list_append(l, garbage);
    }
  }
  if (!live.empty()) {
    {
      std::lock_guard lock(s.mu);
      list_merge(&revived, old);
    }
    release_pins(live);
  }
  return live.size();
}

void move_legacy_finalizers(GcLinks* garbage, GcLinks* finalizers) {
  for (GcLinks* l = garbage->next; l != garbage;) {
    GcLinks* next = l->next;
    if (ObjectHeader::from_links(l)->type->finalize) list_move(l, finalizers);
    l = next;
  }
  // Everything reachable from an uncollectable object is uncollectable too. Garbage is
  // unreachable, so nothing mutates it and it can be traced without the concurrent rules.
  absl::flat_hash_set<GcLinks*> rest;
  for (GcLinks* l = garbage->next; l != garbage; l = l->next) rest.insert(l);
  class Mover final : public Visitor {
   public:
    Mover(absl::flat_hash_set<GcLinks*>& rest, GcLinks* to) : rest_(rest), to_(to) {}

   private:
    void visit(const char*, std::size_t, Slot& slot) override {
      ObjectHeader* r = slot.header.load(std::memory_order_acquire);
      if (!r->type->tracked()) return;
      if (auto it = rest_.find(r->links()); it != rest_.end()) {
        list_move(*it, to_);
        rest_.erase(it);
      }
    }
    absl::flat_hash_set<GcLinks*>& rest_;
    GcLinks* to_;
  } mover(rest, finalizers);
  // The list grows while it is walked; the walk reaches the appended objects too.
  for (GcLinks* l = finalizers->next; l != finalizers; l = l->next) {
    trace(ObjectHeader::from_links(l), mover);
  }
  for (GcLinks* l = finalizers->next; l != finalizers; l = l->next) {
    ObjectHeader::from_links(l)->strong.fetch_and(~ObjectHeader::kTentative,
                                                  std::memory_order_release);
  }
}

// What condemn() saw on its way over the garbage, so that later phases need not walk it again.
struct Condemned {
  std::size_t count = 0;
  bool any_finalizer = false;
};

Condemned condemn(GcLinks* garbage) {
  Condemned c;
  for (GcLinks* l = garbage->next; l != garbage; l = l->next) {
    ObjectHeader* h = ObjectHeader::from_links(l);
    // The weak references made so far never lock again, even if a finalizer resurrects the
    // object (weak.h); ordered before the flags by their release.
    h->weak.fetch_add(1u << ObjectHeader::kEpochShift, std::memory_order_relaxed);
    // One read-modify-write: tentative is set (validation set it), and condemned is set only
    // on an object garbage() kept (DEBUG_SAVEALL) and the program took back.
    const bool condemned = h->strong.load(std::memory_order_relaxed) & ObjectHeader::kCondemned;
    h->strong.fetch_xor(ObjectHeader::kTentative | (condemned ? 0 : ObjectHeader::kCondemned),
                        std::memory_order_release);
    ++c.count;
    c.any_finalizer |= h->type->finalize != nullptr;
  }
  return c;
}

void debug_objects(const char* what, const GcLinks* list) {
  for (const GcLinks* l = list->next; l != list; l = l->next) {
    std::fprintf(stderr, "gc: %s %s\n", what,
                 debug_repr(ObjectHeader::from_links(const_cast<GcLinks*>(l))).c_str());
  }
}

// Calls each finalizer once. The garbage is pinned, so objects a finalizer lets go of are not
// destroyed under it. Returns whether any finalizer ran.
bool finalize_garbage(GcLinks* garbage) {
  bool ran = false;
  for (GcLinks* l = garbage->next; l != garbage; l = l->next)
    ran |= finalize_once(ObjectHeader::from_links(l));
  return ran;
}

// Trial deletion over the garbage once more: an object a finalizer stored a reference to is
// reachable from outside, and survives with everything it reaches. The same protocol as the
// first analysis applies, because resurrected objects may already be in other threads' hands.
// Returns how many objects were resurrected.
std::size_t handle_resurrected_objects(GcState& s, GcLinks* garbage, GcLinks* old) {
  Analysis a;
  a.concurrent = other_mutators() > 0;
  update_refs_pinned(garbage);
  subtract_refs(garbage, a);
  move_unreachable(garbage, a);
  const std::size_t reachable = a.reachable.size();
  // Weak references made from now on work; those made before stay empty (the epoch moved on).
  for (ObjectHeader* h : a.reachable) {
    h->strong.fetch_and(~ObjectHeader::kCondemned, std::memory_order_release);
  }
  promote_survivors(s, garbage, old, a);  // what a finalizer made reachable from outside
  await_quiescence();
  return reachable + validate_unreachable(s, a, garbage, old, /*mark_tentative=*/false);
}

// Clears a garbage object's Ref fields and drops the references they held. Garbage is
// unreachable and its finalizers have run, so no other thread can read or write its fields: a
// plain load and store clear each one, where an exchange would cost a read-modify-write. A
// reference to another garbage object cannot be the last (the collector still pins it); one
// to an object outside the collection may be, and that object is destroyed at once, which is
// safe because it cannot refer back to garbage (it would have made its target reachable).
class ClearingVisitor final : public Visitor {
 private:
  void visit(const char*, std::size_t, Slot& slot) override {
    if (ObjectHeader* r = slot.header.load(std::memory_order_relaxed)) {
      slot.header.store(nullptr, std::memory_order_relaxed);
      slot.element = nullptr;
      decref(r);
    }
  }
};

// Clears the Ref fields of every garbage object, then drops the collector's pins so that
// refcounting frees them. Each object stays pinned until every field is cleared, so no
// destructor runs while another garbage object still points at its object. Each object is
// detached from the list as its pin is dropped, so that freeing it does not take the lock.
void delete_garbage(GcState& s, GcLinks* garbage, GcLinks* old, bool save_all) {
  if (save_all) {
    std::lock_guard lock(s.mu);
    for (GcLinks* l = garbage->next; l != garbage; l = l->next) {
      s.garbage.push_back(AnyRef::adopt(ObjectHeader::from_links(l)));  // the pins move
    }
    list_merge(garbage, old);
    return;
  }
  ClearingVisitor clearer;
  for (GcLinks* l = garbage->next; l != garbage; l = l->next) {
    trace(ObjectHeader::from_links(l), clearer);
  }
  // A destructor may keep an object alive; it goes back to a generation below. The walk reads
  // `next` before the pin is dropped: the freed block is retired, and its links reused.
  std::vector<ObjectHeader*> kept;
  for (GcLinks* l = garbage->next; l != garbage;) {
    GcLinks* next = l->next;
    l->next = nullptr;
    set_prev_word(l, kDetached);
    ObjectHeader* h = ObjectHeader::from_links(l);
    if (release_is_last(h)) {
      destroy(h);
    } else {
      kept.push_back(h);
    }
    l = next;
  }
  list_init(garbage);
  if (kept.empty()) return;
  std::lock_guard lock(s.mu);
  for (ObjectHeader* h : kept) {
    // Still readable if it died since: the collection is running, so freed blocks are retired.
    if (h->strong_count() > 0) list_append(h->links(), old);
  }
}

// Uncollectable objects with finalizers go to garbage(), which takes over the collector's pin;
// the others are kept alive by them. Returns how many objects were uncollectable; `first` (if
// given) is where they start in garbage(), after the collectable ones a saving collection kept.
std::size_t handle_legacy_finalizers(GcState& s, GcLinks* finalizers, GcLinks* old, bool save_all,
                                     std::size_t* first) {
  std::vector<ObjectHeader*> pins;
  std::size_t n = 0;
  {
    std::lock_guard lock(s.mu);
    if (first) *first = s.garbage.size();
    for (GcLinks* l = finalizers->next; l != finalizers; l = l->next, ++n) {
      ObjectHeader* h = ObjectHeader::from_links(l);
      if (save_all || h->type->finalize) {
        s.garbage.push_back(AnyRef::adopt(h));
      } else {
        pins.push_back(h);
      }
    }
    list_merge(finalizers, old);
  }
  release_pins(pins);
  return n;
}

struct Result {
  std::size_t collected = 0;
  std::size_t uncollectable = 0;
  std::size_t unreadable = 0;
};

// What happens to garbage after it is condemned: user code (finalizers and destructors) runs
// here, on the calling thread or on the finalizer executor.
void finish_garbage(GcState& s, GcLinks* garbage, bool any_finalizer, GcLinks* old, int debug,
                    Result& r) {
  if (debug & DEBUG_COLLECTABLE) debug_objects("collectable", garbage);
  if (any_finalizer && finalize_garbage(garbage)) {
    r.collected -= handle_resurrected_objects(s, garbage, old);
  }
  delete_garbage(s, garbage, old, debug & DEBUG_SAVEALL);
}

thread_local bool t_in_collection = false;

}  // namespace

bool collecting_on_this_thread() noexcept { return t_in_collection; }

namespace {

Result collect_main(GcState& s, int generation, bool on_collector_thread, bool save_all,
                    std::size_t* uncollectable_first) {
  GcLinks young, garbage, finalizers;
  list_init(&young);
  list_init(&finalizers);
  GcLinks* old;
  int debug;
  FinalizerPolicy policy;
  FinalizerExecutor executor;
  {
    std::lock_guard lock(s.mu);
    debug = s.debug | (save_all ? DEBUG_SAVEALL : 0);
    policy = s.policy;
    if (on_collector_thread) executor = s.finalizer_executor;
    if (debug & DEBUG_STATS) {
      auto& gens = s.generations;
      std::fprintf(stderr,
                   "gc: collecting generation %d...\n"
                   "gc: objects in each generation: %zu %zu %zu\n"
                   "gc: objects in permanent generation: %zu\n",
                   generation, list_size(&gens[0].head), list_size(&gens[1].head),
                   list_size(&gens[2].head), list_size(&s.permanent));
    }
    detach_generations(s, generation, &young);
    old = &s.generations[std::min(generation + 1, kNumGenerations - 1)].head;
  }

  begin_collecting();
  Analysis a;
  a.concurrent = other_mutators() > 0;
  // Reserved, not grown: growing would copy millions of entries, while pages reserved and never
  // used cost nothing (between them, reachable and unreachable list each candidate once).
  const Pinned pinned = pin_candidates(s, &young, old);
  a.starts.reserve(pinned.count + 1);
  a.edges.reserve(pinned.count);
  a.reachable.reserve(pinned.count);
  a.unreachable.reserve(pinned.count);
  trace_candidates(&young, a, pinned.reads_containers);
  move_unreachable(&young, a);
  account_long_lived(s, generation, a.reachable.size());
  promote_survivors(s, &young, old, a);
  await_quiescence();
  validate_unreachable(s, a, &garbage, old, /*mark_tentative=*/true);

  if (policy == FinalizerPolicy::kLegacy) move_legacy_finalizers(&garbage, &finalizers);
  const Condemned condemned = condemn(&garbage);
  Result r;
  r.collected = condemned.count;
  r.unreadable = a.unreadable;
  if (executor) {
    std::promise<void> done;
    executor([&] {
      t_in_collection = true;  // collect() from a finalizer here is re-entrant, not a wait
      finish_garbage(s, &garbage, condemned.any_finalizer, old, debug, r);
      t_in_collection = false;
      done.set_value();
    });
    done.get_future().wait();
  } else {
    finish_garbage(s, &garbage, condemned.any_finalizer, old, debug, r);
  }
  if (debug & DEBUG_UNCOLLECTABLE) debug_objects("uncollectable", &finalizers);
  r.uncollectable =
      handle_legacy_finalizers(s, &finalizers, old, debug & DEBUG_SAVEALL, uncollectable_first);
  end_collecting();
  return r;
}

void invoke_callbacks(GcState& s, Phase phase, const CollectionInfo& info) {
  std::vector<Callback> callbacks;
  {
    std::lock_guard lock(s.mu);
    for (auto& [id, cb] : s.callbacks) callbacks.push_back(cb);
  }
  for (auto& cb : callbacks) {
    try {
      cb(phase, info);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "Exception ignored in gc callback: %s\n", e.what());
    } catch (...) {
      std::fprintf(stderr, "Exception ignored in gc callback: unknown exception\n");
    }
  }
}

}  // namespace

std::size_t run_collection(int generation, Trigger trigger, bool wait_if_running,
                           RunOptions options) {
  GcState& s = state();
  if (t_in_collection) return 0;
  if ((trigger == Trigger::kThreshold || trigger == Trigger::kBytes) && g_program_ended.load()) {
    return 0;  // automatic collections end with the program (at_program_end)
  }
  settle_this_thread();
  adopt_lent_buffers();
  {
    std::unique_lock lock(s.mu);
    if (s.collecting && !wait_if_running) return 0;
    LibraryWait waiting;  // counts as stopped while it waits; returns into the library
    s.collection_done.wait(lock, [&s] { return !s.collecting; });
    s.collecting = true;
    if (options.garbage_before) *options.garbage_before = s.garbage.size();
  }
  t_in_collection = true;
  s.bytes_since_collection.store(0, std::memory_order_relaxed);
  const auto start = std::chrono::steady_clock::now();
  invoke_callbacks(s, Phase::kStart, {generation, 0, 0, trigger});
  Result r = collect_main(s, generation, is_collector_thread(), options.save_all,
                          options.uncollectable_first);
  {
    std::lock_guard lock(s.mu);
    auto& stats = s.stats[generation];
    ++stats.collections;
    stats.collected += r.collected;
    stats.uncollectable += r.uncollectable;
    stats.unreadable += r.unreadable;
    ++stats.by_trigger[static_cast<int>(trigger)];
    if (s.debug & DEBUG_STATS) {
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (r.unreadable > 0) {
        std::fprintf(stderr,
                     "gc: %zu objects kept alive unread: containers of threads that reached no "
                     "safepoint, or a busy Guarded\n",
                     r.unreadable);
      }
      if (r.collected + r.uncollectable == 0) {
        std::fprintf(stderr, "gc: done, %.4fs elapsed\n", elapsed);
      } else {
        std::fprintf(stderr, "gc: done, %zu unreachable, %zu uncollectable, %.4fs elapsed\n",
                     r.collected + r.uncollectable, r.uncollectable, elapsed);
      }
    }
  }
  invoke_callbacks(s, Phase::kStop,
                   {generation, r.collected, r.uncollectable, trigger, r.unreadable});
  t_in_collection = false;
  {
    std::lock_guard lock(s.mu);
    s.collecting = false;
  }
  s.collection_done.notify_all();
  return r.collected + r.uncollectable;
}

int generation_over_threshold() {
  GcState& s = state();
  std::lock_guard lock(s.mu);
  if (s.collecting || !s.enabled) return -1;
  for (int i = kNumGenerations - 1; i >= 0; --i) {
    if (s.generations[i].count <= s.generations[i].threshold) continue;
    if (i == kNumGenerations - 1 && s.long_lived_pending < s.long_lived_total / 4) continue;
    return i;
  }
  return -1;
}

}  // namespace cyclegc::detail

namespace cyclegc::testing {
void set_collector_hook(CollectorHook hook) {
  detail::g_hook.store(hook, std::memory_order_release);
}
}  // namespace cyclegc::testing
