// The tracing contract: how a type tells the collector which references it holds.
//
// A type that can take part in a cycle defines
//
//     void trace(cyclegc::Visitor& v) const { v("next", next); v("kids", kids); }
//
// naming each field that holds `Ref`s (directly, or inside standard containers, optionals, pairs,
// map values, or nested structs that have their own `trace`). The collector calls `trace` to
// count internal references, to find what is reachable, and to clear the references of garbage;
// the labels reach debug output and reports. `Weak` fields may be passed too and are ignored
// (a weak reference is not an edge). A trace must visit every `Ref` the object owns, and only
// those: an unvisited `Ref` makes its target look externally held (it leaks, but is never freed
// early); visiting a `Ref` the object does not own corrupts the count.
//
// Types without `trace` are refcounted but never tracked, like Python ints.
//
// Threads: `Ref` fields may be traced while their owner replaces them (a Ref is an atomic word).
// A standard container may not: its buffer moves when it grows. So while another thread that
// uses references is alive, the collector does not look inside plain containers: an object
// whose trace reaches one counts as live for that collection. Put containers that other
// threads — or the background collector — must see through in a Guarded<T> (guarded.h), whose
// trace takes the lock it is mutated under.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <ranges>
#include <string_view>
#include <utility>

#include "cyclegc/object_header.h"

namespace cyclegc {

template <class T>
class Ref;
template <class T>
class Weak;
template <class T>
class Guarded;

class Visitor;

template <class T>
concept Traceable = requires(const T& t, Visitor& v) {
  t.trace(v);
};

class Visitor {
 public:
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);

  template <class T>
  void operator()(const char* label, const Ref<T>& ref) {
    edge(label, kNoIndex, ref.slot());
  }
  template <class T>
  void operator()(const char*, const Weak<T>&) {}

  template <class T>
  void operator()(const char* label, const Guarded<T>& guarded) {
    guarded.trace_as(label, *this);
  }
  template <class T>
  void operator()(const char* label, const std::optional<T>& opt) {
    if (!may_read_containers()) return;
    if (opt) (*this)(label, *opt);
  }
  template <class A, class B>
  void operator()(const char* label, const std::pair<A, B>& p) {
    (*this)(label, p.first);
    (*this)(label, p.second);
  }
  template <Traceable T>
  void operator()(const char*, const T& nested) {
    nested.trace(*this);
  }
  // Standard containers (vector, deque, list, set, map, unordered_map, array...): every element
  // is visited with its position, so reports can say "kids[3]".
  template <std::ranges::range R>
  requires(!Traceable<R> && !std::is_convertible_v<const R&, std::string_view>) void operator()(
      const char* label, const R& range) {
    if (!may_read_containers()) return;
    std::size_t i = 0;
    for (const auto& element : range) element_at(label, i++, element);
  }
  // Anything else (ints, strings, raw pointers) holds no references.
  template <class T>
  void operator()(const char*, const T&) {}

  // For Guarded<T>: the traced value is protected by a lock the trace now holds.
  void enter_guarded() { ++guarded_depth_; }
  void exit_guarded() { --guarded_depth_; }
  // For Guarded<T>: the lock is busy, so this object cannot be traced completely right now.
  void mark_untraceable() { untraceable_ = true; }

 protected:
  using Slot = std::atomic<detail::ObjectHeader*>;
  // Set by the collector: other threads may be mutating plain containers.
  bool concurrent_ = false;
  // Set when part of the object could not be read; the collector then keeps it alive.
  bool untraceable_ = false;
  // Called once per non-null strong reference. The slot is the Ref's own word: read it with an
  // acquire load (it pairs with the release that installed the object); a clearing visitor may
  // exchange it with null.
  virtual void visit(const char* label, std::size_t index, Slot& slot) = 0;
  ~Visitor() = default;

 private:
  bool may_read_containers() {
    if (concurrent_ && guarded_depth_ == 0) {
      untraceable_ = true;
      return false;
    }
    return true;
  }
  int guarded_depth_ = 0;

  void edge(const char* label, std::size_t index, const Slot& slot) {
    if (slot.load(std::memory_order_acquire) != nullptr)
      visit(label, index, const_cast<Slot&>(slot));
  }
  template <class T>
  void element_at(const char* label, std::size_t i, const Ref<T>& ref) {
    edge(label, i, ref.slot());
  }
  template <class A, class B>
  void element_at(const char* label, std::size_t i, const std::pair<A, B>& p) {
    element_at(label, i, p.first);
    element_at(label, i, p.second);
  }
  template <class T>
  void element_at(const char* label, std::size_t, const T& element) {
    (*this)(label, element);
  }
};

}  // namespace cyclegc
