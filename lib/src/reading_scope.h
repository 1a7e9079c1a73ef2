// How introspection reads the heap while other threads run: by the collector's rules
// (collector.cc). An object is traced only while a reference pins it, and referents found in it
// are read only while their blocks cannot be freed — the scope counts as a collection, so
// blocks freed meanwhile are retired, not returned. Containers are read only while the other
// threads that use cyclegc are stopped at safepoints; when they cannot be stopped, the scope
// reads Ref fields only (a container is skipped). Used by gc_api.cc and still_reachable.cc.
#pragma once

#include <chrono>
#include <cstddef>
#include <utility>

#include "cyclegc/any_ref.h"
#include "cyclegc/mutator.h"
#include "cyclegc/visitor.h"
#include "mutator_registry.h"

namespace cyclegc::detail {

// A reference for introspection: refuses objects whose count already reached zero (another
// thread is destroying them), but not condemned ones, which may have been resurrected.
inline bool incref_if_alive(ObjectHeader* h) { return ref_try_acquire(h, /*refused=*/0); }

class ReadingScope {
 public:
  ReadingScope() {
    if (other_mutators() > 0) {
      stopped_ = stop_mutators(std::chrono::milliseconds(20));
      concurrent_ = !stopped_;
    }
    begin_collecting();
  }
  ~ReadingScope() {
    if (stopped_) resume_mutators();
    end_collecting();
  }
  ReadingScope(const ReadingScope&) = delete;
  ReadingScope& operator=(const ReadingScope&) = delete;
  bool concurrent() const { return concurrent_; }
  bool stopped() const { return stopped_; }

 private:
  // Its waits (the stop, the grace period) are the library's: they must not park the thread at
  // their end, where it holds the registry's lock.
  LibraryWait waiting_;
  bool stopped_ = false;
  bool concurrent_ = false;
};

template <class F>
class EdgeCollector final : public Visitor {
 public:
  EdgeCollector(F f, bool concurrent) : f_(std::move(f)) { concurrent_ = concurrent; }

 private:
  void visit(const char* label, std::size_t index, Slot& slot) override {
    if (ObjectHeader* r = slot.header.load(std::memory_order_acquire)) f_(label, index, r);
  }
  F f_;
};

// Calls f(label, index, referent) for each edge of `h`, which the caller pins, inside `scope`.
template <class F>
void for_each_edge(const ReadingScope& scope, ObjectHeader* h, F f) {
  if (!h->type->tracked()) return;
  EdgeCollector visitor(std::move(f), scope.concurrent());
  h->type->trace(h->value(), visitor);
}

// Calls each(label, index, referent) for each live referent of `object`, pinned for the call.
template <class F>
void for_each_live_edge(const ReadingScope& scope, const AnyRef& object, F each) {
  for_each_edge(scope, object.header(), [&](const char* label, std::size_t index, ObjectHeader* r) {
    // A referent another thread is destroying (its count reached zero while the
    // field was being replaced) is not an edge any more.
    if (!incref_if_alive(r)) return;
    each(label, index, AnyRef::adopt(r));
  });
}

}  // namespace cyclegc::detail
