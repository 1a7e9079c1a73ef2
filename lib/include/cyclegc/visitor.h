// The tracing contract: how a type tells the collector which references it holds.
//
// A type that can take part in a cycle defines
//
//     void trace(cyclegc::Visitor& v) const { v("next", next); v("kids", kids); }
//
// naming each field that holds `Ref`s: directly, or inside standard containers (vector, deque,
// list, map, set, unordered_map, array...), optional, pair, tuple, variant, unique_ptr, or a
// nested struct with a `trace` of its own. The collector calls `trace` to count internal
// references, to find what is reachable, and to clear the references of garbage; the labels
// reach debug output and reports. `Weak` fields may be passed and are ignored (a weak reference
// is not an edge), and so are fields that can hold no reference (numbers, enums, strings). A
// trace must visit every `Ref` the object owns, and only those: an unvisited `Ref` makes its
// target look externally held (it leaks, but is never freed early); visiting a `Ref` the object
// does not own corrupts the count. A field the visitor cannot see into — std::shared_ptr,
// std::function, a raw pointer, a type without `trace` — is a compile error that says what to
// do, never a silent gap.
//
// Types without `trace` are refcounted but never tracked, like Python ints.
//
// When traces run. `Ref` fields, std::array, pair and tuple are read in place, at any time: a
// Ref is an atomic word. Containers that allocate (vector, map, optional, variant, unique_ptr...)
// move or free their storage as they change, so the collector reads them only while no other
// thread can be changing them: when the program has no other thread that uses cyclegc, or
// while every such thread is at a safepoint — inside make<>() (not from a destructor), in
// collect(), or blocked in a wait (a condition variable, join, sleep, poll; see
// lib/src/blocking_calls.cc). This is CPython's rule that a collection may run at any
// allocation: a thread must not call make<>() or block in the middle of changing a traced
// structure of its own design. An object whose containers could not be read in a collection
// counts as live for it, and is counted in get_stats()[g].unreadable. Containers that threads
// change while other threads keep running belong in a Guarded<T> (guarded.h), whose trace
// takes the lock they are changed under.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <ranges>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

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

namespace detail {

template <class T, template <class...> class Template>
inline constexpr bool is_instance_of = false;
template <template <class...> class Template, class... Args>
inline constexpr bool is_instance_of<Template<Args...>, Template> = true;

template <class T>
inline constexpr bool is_std_array = false;
template <class T, std::size_t N>
inline constexpr bool is_std_array<std::array<T, N>> = true;

template <class T>
inline constexpr bool dependent_false = false;

// Fields that cannot hold a reference: the visitor skips them.
template <class T>
concept NoReferences = std::is_arithmetic_v<T> || std::is_enum_v<T> ||
    std::is_same_v<T, std::nullptr_t> || std::is_convertible_v<const T&, std::string_view>;

// Whether a field of type T can hold a strong reference, decided at compile time, so that a
// container of plain values is never read (nor counted as unreadable) at all.
template <class T>
constexpr bool may_hold_refs() {
  using U = std::remove_cv_t<T>;
  if constexpr (is_instance_of<U, Ref> || is_instance_of<U, Guarded> || Traceable<U>) {
    return true;
  } else if constexpr (is_instance_of<U, Weak> || NoReferences<U>) {
    return false;
  } else if constexpr (is_instance_of<U, std::pair>) {
    return may_hold_refs<typename U::first_type>() || may_hold_refs<typename U::second_type>();
  } else if constexpr (is_instance_of<U, std::tuple> || is_instance_of<U, std::variant>) {
    return []<template <class...> class L, class... E>(std::type_identity<L<E...>>) {
      return (may_hold_refs<E>() || ...);
    }(std::type_identity<U>{});
  } else if constexpr (std::is_array_v<U>) {
    return may_hold_refs<std::remove_extent_t<U>>();
  } else if constexpr (is_instance_of<U, std::optional>) {
    return may_hold_refs<typename U::value_type>();
  } else if constexpr (is_instance_of<U, std::unique_ptr>) {
    return may_hold_refs<std::remove_extent_t<typename U::element_type>>();
  } else if constexpr (std::ranges::range<U>) {
    return may_hold_refs<std::ranges::range_value_t<U>>();
  } else {
    return true;  // not knowable: the visitor reports it as an error
  }
}

}  // namespace detail

class Visitor {
 public:
  static constexpr std::size_t kNoIndex = static_cast<std::size_t>(-1);

  // Visits one field: see the contract above for what it may be.
  template <class T>
  void operator()(const char* label, const T& field) {
    visit_field(label, kNoIndex, field);
  }

  // For Guarded<T>: the traced value is protected by a lock the trace now holds.
  void enter_guarded() { ++guarded_depth_; }
  void exit_guarded() { --guarded_depth_; }
  // For Guarded<T>: the lock is busy, so this object cannot be traced completely right now.
  void mark_untraceable() { untraceable_ = true; }

 protected:
  using Slot = detail::RefSlot;
  // Set by the collector: other threads may be changing plain containers right now.
  bool concurrent_ = false;
  // Set when part of the object could not be read; the collector then keeps it alive.
  bool untraceable_ = false;
  // Set when the trace reached a container outside any Guarded, read or not: the type needs
  // its traces to run at a safepoint while other threads run.
  bool met_container_ = false;
  // Called once per non-null strong reference. Read slot.header with an acquire load (it pairs
  // with the release that installed the object); a clearing visitor may empty the slot.
  virtual void visit(const char* label, std::size_t index, Slot& slot) = 0;
  ~Visitor() = default;

 private:
  template <class T>
  void visit_field(const char* label, std::size_t index, const T& f) {
    using U = std::remove_cv_t<T>;
    if constexpr (!detail::may_hold_refs<U>()) {
      // numbers, strings, Weak, and containers of those: nothing to see
    } else if constexpr (detail::is_instance_of<U, Ref>) {
      edge(label, index, f.slot());
    } else if constexpr (detail::is_instance_of<U, Guarded>) {
      f.trace_as(label, *this);
    } else if constexpr (Traceable<U>) {
      f.trace(*this);
    } else if constexpr (detail::is_instance_of<U, std::pair>) {
      visit_field(label, index, f.first);
      visit_field(label, index, f.second);
    } else if constexpr (detail::is_instance_of<U, std::tuple>) {
      std::apply([&](const auto&... e) { (visit_field(label, index, e), ...); }, f);
    } else if constexpr (detail::is_std_array<U> || std::is_array_v<U>) {
      std::size_t i = 0;  // in place, like a Ref field: readable at any time
      for (const auto& e : f) visit_field(label, i++, e);
    } else if constexpr (detail::is_instance_of<U, std::optional>) {
      if (may_read_containers() && f) visit_field(label, index, *f);
    } else if constexpr (detail::is_instance_of<U, std::variant>) {
      if (may_read_containers() && !f.valueless_by_exception()) {
        std::visit([&](const auto& alternative) { visit_field(label, index, alternative); }, f);
      }
    } else if constexpr (detail::is_instance_of<U, std::unique_ptr>) {
      static_assert(!std::is_array_v<typename U::element_type>,
                    "cyclegc: trace cannot visit a std::unique_ptr<T[]> (its length is unknown): "
                    "hold the elements in a std::vector instead");
      if (may_read_containers() && f) visit_field(label, index, *f);
    } else if constexpr (detail::is_instance_of<U, std::shared_ptr>) {
      static_assert(detail::dependent_false<U>,
                    "cyclegc: a std::shared_ptr field is invisible to the collector, and a cycle "
                    "through it leaks: make it a cyclegc::Ref<T> (and make_shared a "
                    "cyclegc::make<T>)");
    } else if constexpr (detail::is_instance_of<U, std::weak_ptr>) {
      static_assert(detail::dependent_false<U>,
                    "cyclegc: a std::weak_ptr cannot observe a cyclegc object: make it a "
                    "cyclegc::Weak<T> (or leave it out of trace)");
    } else if constexpr (detail::is_instance_of<U, std::function>) {
      static_assert(detail::dependent_false<U>,
                    "cyclegc: the captures of a std::function cannot be traced; a Ref it "
                    "captures keeps its target alive where no collector can see it. Hold the Ref "
                    "in a traced field and capture a Weak<T> (or a raw pointer) instead");
    } else if constexpr (std::is_pointer_v<U>) {
      static_assert(detail::dependent_false<U>,
                    "cyclegc: a raw pointer keeps nothing alive and cannot be traced: hold a "
                    "cyclegc::Ref<T> (owning) or cyclegc::Weak<T> (observing), or leave the "
                    "pointer out of trace");
    } else if constexpr (std::ranges::range<U>) {
      if (!may_read_containers()) return;
      std::size_t i = 0;
      for (const auto& e : f) visit_field(label, i++, e);
    } else {
      static_assert(detail::dependent_false<U>,
                    "cyclegc: trace cannot see inside this field's type: give the type a member "
                    "`void trace(cyclegc::Visitor& v) const` that visits its Refs, or leave the "
                    "field out of trace if it can never hold a Ref");
    }
  }

  bool may_read_containers() {
    if (guarded_depth_ > 0) return true;
    met_container_ = true;
    if (concurrent_) {
      untraceable_ = true;
      return false;
    }
    return true;
  }
  int guarded_depth_ = 0;

  void edge(const char* label, std::size_t index, const Slot& slot) {
    if (slot.header.load(std::memory_order_acquire) != nullptr)
      visit(label, index, const_cast<Slot&>(slot));
  }
};

}  // namespace cyclegc
