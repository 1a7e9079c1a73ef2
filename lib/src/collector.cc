// The cycle collector: CPython's gcmodule.c algorithm, one phase per function, in the order
// collect_main() runs them.
//
// Refcounting already frees every object whose count reaches zero, so garbage that survives is
// garbage held only by references from other garbage. Trial deletion finds it:
//
//   update_refs         gc_refs := strong count, for each object of the generations collected
//   subtract_refs       gc_refs -= 1 for every reference from another object being collected;
//                       what is left counts references from outside (stack, globals, older
//                       generations, untracked objects)
//   move_unreachable    objects with gc_refs > 0, and everything they reach, are reachable; the
//                       rest move to `unreachable`
//   (promotion)         survivors move to the next generation
//   move_legacy_finalizers   legacy policy only: objects with finalizers, and all they reach,
//                       become uncollectable
//   clear_weakrefs      every unreachable object is condemned: Weak::lock() now fails
//   finalize_garbage    finalize() runs once per object (PEP 442), the lock released
//   handle_resurrected  trial deletion again over `unreachable`: what a finalizer made
//                       reachable from outside survives, with everything it reaches
//   delete_garbage      each garbage object's Ref fields are cleared; refcounting then frees
//                       the objects (the collector holds one reference to each until all are
//                       cleared, so no object is freed while another still points at it)
//   handle_legacy_finalizers  uncollectable objects go to garbage()
//
// Every traversal is iterative (an explicit stack), so graph depth never grows the C++ stack.
// During the analysis phases an object's GcLinks::prev word holds its gc_refs and scratch flags,
// as in CPython; the lists are relinked before any user code runs.
//
// Threads: the state mutex is held during analysis and released around all user code
// (finalizers, destructors, callbacks), because freeing a tracked object takes the mutex to
// unlink it. An object whose count is already zero is being destroyed by another thread, which
// waits on the mutex to unlink it; it is kept reachable and never traced, so its referents
// survive this round. The analysis itself assumes the traced fields of the objects being
// collected do not change while it runs: that holds for collections run by the application at
// a quiet point. The background collector (collect on its own thread while other threads
// mutate) is the subject of its own design, in the background collector's source.
#include <chrono>
#include <cstdio>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "cyclegc/gc.h"
#include "finalizer.h"
#include "gc_list.h"
#include "gc_state.h"

namespace cyclegc::detail {
namespace {

// Scratch bits in GcLinks::prev during analysis. User-space pointers never set bits 61-63, so a
// referent whose prev has kCollecting set is being collected; anything else is outside.
constexpr std::uintptr_t kCollecting = std::uintptr_t{1} << 63;
constexpr std::uintptr_t kReachable = std::uintptr_t{1} << 62;
constexpr std::uintptr_t kNoTrace = std::uintptr_t{1} << 61;
constexpr std::uintptr_t kRefsMask = 0xffffffff;

template <class F>
class EdgeVisitor final : public Visitor {
 public:
  explicit EdgeVisitor(F f) : f_(std::move(f)) {}

 private:
  void visit(const char*, std::size_t, Slot& slot) override {
    if (ObjectHeader* r = slot.load(std::memory_order_relaxed)) f_(r);
  }
  F f_;
};

void trace(ObjectHeader* h, Visitor& v) { h->type->trace(h->value(), v); }

GcLinks* collecting_links(ObjectHeader* r) {
  if (!r->type->tracked()) return nullptr;
  GcLinks* l = r->links();
  return (l->prev & kCollecting) ? l : nullptr;
}

void update_refs(GcLinks* young) {
  for (GcLinks* l = young->next; l != young; l = l->next) {
    std::uint32_t count = ObjectHeader::from_links(l)->strong_count();
    l->prev = kCollecting | (count == 0 ? (kNoTrace | 1) : count);
  }
}

void subtract_refs(GcLinks* young) {
  EdgeVisitor visitor([](ObjectHeader* r) {
    if (GcLinks* l = collecting_links(r); l && (l->prev & kRefsMask) > 0) --l->prev;
  });
  for (GcLinks* l = young->next; l != young; l = l->next) {
    if (!(l->prev & kNoTrace)) trace(ObjectHeader::from_links(l), visitor);
  }
}

// Returns how many objects moved to `unreachable`.
std::size_t move_unreachable(GcLinks* young, GcLinks* unreachable) {
  std::vector<GcLinks*> stack;
  auto mark = [&stack](GcLinks* l) {
    l->prev |= kReachable;
    stack.push_back(l);
  };
  for (GcLinks* l = young->next; l != young; l = l->next) {
    if ((l->prev & kRefsMask) > 0) mark(l);
  }
  EdgeVisitor visitor([&mark](ObjectHeader* r) {
    if (GcLinks* l = collecting_links(r); l && !(l->prev & kReachable)) mark(l);
  });
  while (!stack.empty()) {
    GcLinks* l = stack.back();
    stack.pop_back();
    if (!(l->prev & kNoTrace)) trace(ObjectHeader::from_links(l), visitor);
  }
  // Split the list by the kReachable bit, walking `next` only, then restore every `prev`.
  GcLinks* kept = young;
  GcLinks* lost = list_prev(unreachable);
  std::size_t lost_count = 0;
  for (GcLinks* l = young->next; l != young;) {
    GcLinks* next = l->next;
    const bool reachable = l->prev & kReachable;
    GcLinks*& tail = reachable ? kept : lost;
    tail->next = l;
    tail = l;
    lost_count += !reachable;
    l = next;
  }
  kept->next = young;
  lost->next = unreachable;
  list_relink(young);
  list_relink(unreachable);
  return lost_count;
}

// Trial deletion over one list: afterwards `list` holds what is reachable from outside it and
// `unreachable` the rest. Returns the size of the unreachable part.
std::size_t split_unreachable(GcLinks* list, GcLinks* unreachable) {
  update_refs(list);
  subtract_refs(list);
  return move_unreachable(list, unreachable);
}

void move_legacy_finalizers(GcLinks* unreachable, GcLinks* finalizers) {
  for (GcLinks* l = unreachable->next; l != unreachable;) {
    GcLinks* next = l->next;
    if (ObjectHeader::from_links(l)->type->finalize) list_move(l, finalizers);
    l = next;
  }
}

// Everything reachable from an uncollectable object is uncollectable too.
void move_legacy_finalizer_reachable(GcLinks* unreachable, GcLinks* finalizers) {
  absl::flat_hash_set<GcLinks*> rest;
  for (GcLinks* l = unreachable->next; l != unreachable; l = l->next) rest.insert(l);
  EdgeVisitor visitor([&](ObjectHeader* r) {
    if (!r->type->tracked()) return;
    if (auto it = rest.find(r->links()); it != rest.end()) {
      list_move(*it, finalizers);
      rest.erase(it);
    }
  });
  // The list grows while it is walked; the walk reaches the appended objects too.
  for (GcLinks* l = finalizers->next; l != finalizers; l = l->next) {
    trace(ObjectHeader::from_links(l), visitor);
  }
}

void debug_objects(const char* what, const GcLinks* list) {
  for (const GcLinks* l = list->next; l != list; l = l->next) {
    std::fprintf(stderr, "gc: %s %s\n", what,
                 debug_repr(ObjectHeader::from_links(const_cast<GcLinks*>(l))).c_str());
  }
}

void clear_weakrefs(GcLinks* unreachable) {
  for (GcLinks* l = unreachable->next; l != unreachable; l = l->next) {
    ObjectHeader::from_links(l)->strong.fetch_or(ObjectHeader::kCondemned,
                                                 std::memory_order_release);
  }
}

// Calls each finalizer once. The object is moved to `seen` first and held by a reference while
// its finalizer runs, so objects the finalizer frees can unlink themselves from either list.
// Called with s.mu held; releases it around each finalizer. Returns whether any finalizer ran.
bool finalize_garbage(GcState& s, GcLinks* unreachable) {
  bool ran = false;
  GcLinks seen;
  list_init(&seen);
  while (!list_empty(unreachable)) {
    GcLinks* l = unreachable->next;
    list_move(l, &seen);
    ObjectHeader* h = ObjectHeader::from_links(l);
    if (!h->type->finalize ||
        (h->strong.load(std::memory_order_acquire) & ObjectHeader::kFinalized)) {
      continue;
    }
    incref(h);
    s.mu.unlock();
    ran |= finalize_once(h);
    decref(h);
    s.mu.lock();
  }
  list_merge(&seen, unreachable);
  return ran;
}

// What a finalizer made reachable again survives, with everything it reaches. Returns how many
// objects were resurrected. Without a finalizer having run, no user code ran since the analysis
// and nothing can have been resurrected, so the second trial deletion is skipped.
std::size_t handle_resurrected_objects(bool finalizers_ran, GcLinks* unreachable,
                                       GcLinks* still_unreachable, GcLinks* old) {
  if (!finalizers_ran) {
    list_merge(unreachable, still_unreachable);
    return 0;
  }
  split_unreachable(unreachable, still_unreachable);
  std::size_t resurrected = list_size(unreachable);
  list_merge(unreachable, old);
  return resurrected;
}

class ClearingVisitor final : public Visitor {
 public:
  std::vector<ObjectHeader*> dropped;

 private:
  void visit(const char*, std::size_t, Slot& slot) override {
    if (ObjectHeader* r = slot.exchange(nullptr, std::memory_order_relaxed)) dropped.push_back(r);
  }
};

// Clears the Ref fields of every garbage object, then lets refcounting free them. Each object
// is held by one collector reference until every field is cleared, so no destructor runs while
// another garbage object still points at its object. Called with s.mu held; releases it while
// clearing and freeing.
void delete_garbage(GcState& s, GcLinks* garbage, GcLinks* old) {
  std::vector<ObjectHeader*> doomed;
  for (GcLinks* l = garbage->next; l != garbage; l = l->next) {
    ObjectHeader* h = ObjectHeader::from_links(l);
    incref(h);
    doomed.push_back(h);
  }
  if (s.debug & DEBUG_SAVEALL) {
    for (ObjectHeader* h : doomed) s.garbage.push_back(AnyRef::adopt(h));
    list_merge(garbage, old);
    return;
  }
  s.mu.unlock();
  ClearingVisitor clearer;
  for (ObjectHeader* h : doomed) trace(h, clearer);
  for (ObjectHeader* r : clearer.dropped) decref(r);
  for (ObjectHeader* h : doomed) decref(h);
  s.mu.lock();
  // Anything still here was kept alive by a destructor: it lives on in the old generation.
  list_merge(garbage, old);
}

std::size_t handle_legacy_finalizers(GcState& s, GcLinks* finalizers, GcLinks* old) {
  std::size_t n = 0;
  for (GcLinks* l = finalizers->next; l != finalizers; l = l->next) {
    ++n;
    ObjectHeader* h = ObjectHeader::from_links(l);
    if ((s.debug & DEBUG_SAVEALL) || h->type->finalize) {
      incref(h);
      s.garbage.push_back(AnyRef::adopt(h));
    }
  }
  list_merge(finalizers, old);
  return n;
}

struct Result {
  std::size_t collected = 0;
  std::size_t uncollectable = 0;
};

Result collect_main(GcState& s, int generation) {
  const auto start = std::chrono::steady_clock::now();
  auto& gens = s.generations;
  if (s.debug & DEBUG_STATS) {
    std::fprintf(stderr,
                 "gc: collecting generation %d...\n"
                 "gc: objects in each generation: %zu %zu %zu\n"
                 "gc: objects in permanent generation: %zu\n",
                 generation, list_size(&gens[0].head), list_size(&gens[1].head),
                 list_size(&gens[2].head), list_size(&s.permanent));
  }
  if (generation + 1 < kNumGenerations) gens[generation + 1].count += 1;
  for (int i = 0; i <= generation; ++i) gens[i].count = 0;
  for (int i = 0; i < generation; ++i) list_merge(&gens[i].head, &gens[generation].head);

  GcLinks* young = &gens[generation].head;
  GcLinks* old = generation + 1 < kNumGenerations ? &gens[generation + 1].head : young;
  GcLinks unreachable, finalizers, garbage;
  list_init(&unreachable);
  list_init(&finalizers);
  list_init(&garbage);

  const std::size_t found = split_unreachable(young, &unreachable);
  if (young != old) {
    if (generation == kNumGenerations - 2) s.long_lived_pending += list_size(young);
    list_merge(young, old);
  } else {
    s.long_lived_pending = 0;
    s.long_lived_total = list_size(young);
  }
  if (s.policy == FinalizerPolicy::kLegacy) {
    move_legacy_finalizers(&unreachable, &finalizers);
    move_legacy_finalizer_reachable(&unreachable, &finalizers);
  }
  if (s.debug & DEBUG_COLLECTABLE) debug_objects("collectable", &unreachable);
  // Objects that finalizers free count as collected; objects they resurrect do not.
  Result r;
  r.collected = found - list_size(&finalizers);
  clear_weakrefs(&unreachable);
  const bool finalizers_ran = finalize_garbage(s, &unreachable);
  r.collected -= handle_resurrected_objects(finalizers_ran, &unreachable, &garbage, old);
  delete_garbage(s, &garbage, old);
  if (s.debug & DEBUG_UNCOLLECTABLE) debug_objects("uncollectable", &finalizers);
  r.uncollectable = handle_legacy_finalizers(s, &finalizers, old);

  auto& stats = s.stats[generation];
  ++stats.collections;
  stats.collected += r.collected;
  stats.uncollectable += r.uncollectable;
  if (s.debug & DEBUG_STATS) {
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (r.collected + r.uncollectable == 0) {
      std::fprintf(stderr, "gc: done, %.4fs elapsed\n", elapsed);
    } else {
      std::fprintf(stderr, "gc: done, %zu unreachable, %zu uncollectable, %.4fs elapsed\n",
                   r.collected + r.uncollectable, r.uncollectable, elapsed);
    }
  }
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

// The caller has set s.collecting; it is cleared by the caller too.
std::size_t collect_with_callback(int generation) {
  GcState& s = state();
  invoke_callbacks(s, Phase::kStart, {generation, 0, 0});
  Result r;
  {
    std::lock_guard lock(s.mu);
    r = collect_main(s, generation);
  }
  invoke_callbacks(s, Phase::kStop, {generation, r.collected, r.uncollectable});
  return r.collected + r.uncollectable;
}

void collect_generations() {
  GcState& s = state();
  int generation = -1;
  {
    std::lock_guard lock(s.mu);
    if (s.collecting || !s.enabled) return;
    for (int i = kNumGenerations - 1; i >= 0; --i) {
      if (s.generations[i].count <= s.generations[i].threshold) continue;
      if (i == kNumGenerations - 1 && s.long_lived_pending < s.long_lived_total / 4) continue;
      generation = i;
      break;
    }
    if (generation < 0) return;
    s.collecting = true;
  }
  collect_with_callback(generation);
  std::lock_guard lock(s.mu);
  s.collecting = false;
}

}  // namespace cyclegc::detail
