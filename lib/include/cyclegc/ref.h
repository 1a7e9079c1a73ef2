// Ref<T>: an owning, reference-counted pointer to an object made by cyclegc::make<T>.
//
// Two machine words, as std::shared_ptr: the object's header (what the counts live in and what
// the collector reads) and the element pointer that get() returns. They differ once a Ref has
// been converted: a Ref<Base> to an object made as make<Derived> points at the Base subobject
// (adjusted for multiple and virtual inheritance when the conversion is made, once), while its
// header still describes the Derived, so the object is traced, finalized and destroyed as the
// Derived it is. Copy increments the strong count, destruction decrements it, and the object is
// destroyed the moment the count reaches zero, so refcounting handles the common case and the
// collector only ever sees cycles.
//
// The header word is a std::atomic so that the collector may read a Ref field while the owning
// thread replaces it, without a data race; the element word is never read by the collector.
// Stores that install an object are releases and the collector's loads acquires, so a collector
// that finds an object through a field also sees the object's construction; on x86-64 both are
// plain moves. That is the only concurrency a Ref promises: two application threads writing the
// same Ref still need a lock, as with std::shared_ptr.
#pragma once

#include <atomic>
#include <compare>
#include <concepts>
#include <cstddef>
#include <functional>
#include <ostream>
#include <utility>

#include "cyclegc/mutator.h"
#include "cyclegc/object_header.h"

namespace cyclegc {

class AnyRef;
class Visitor;
template <class T>
class Ref;
template <class T>
class Weak;
template <class T>
class enable_ref_from_this;
template <class T, class... Args>
Ref<T> make(Args&&... args);

namespace detail {

template <class T>
void* erase_element(T* p) noexcept {
  return const_cast<void*>(static_cast<const volatile void*>(p));
}

}  // namespace detail

// Ref<U> converts to Ref<T> exactly when U* converts to T*, as for std::shared_ptr.
template <class U, class T>
concept RefConvertible = std::convertible_to<U*, T*>;

template <class T>
class Ref {
 public:
  using element_type = T;
  using weak_type = Weak<T>;

  constexpr Ref() noexcept = default;
  constexpr Ref(std::nullptr_t) noexcept {}  // NOLINT: implicit like shared_ptr
  Ref(const Ref& other) noexcept : Ref(other, other.get()) {}
  template <class U>
  requires RefConvertible<U, T> Ref(const Ref<U>& other)
  noexcept  // NOLINT: implicit upcast
      : Ref(other, other.get()) {}
  // The aliasing constructor: shares ownership of `owner`'s object, points at `element`
  // (a member or subobject of it), as std::shared_ptr's.
  template <class U>
  Ref(const Ref<U>& owner, T* element) noexcept {
    if (auto* h = owner.header()) {
      detail::ref_acquire(h);
      s_.header.store(h, kPublish);
      s_.element = detail::erase_element(element);
    }
  }
  // A move changes no count, but it relocates a reference, which a concurrent collection must
  // hear about (the "scan frontier" case), so it runs inside the protocol too.
  Ref(Ref&& other) noexcept { take(other, other.get()); }
  template <class U>
  requires RefConvertible<U, T> Ref(Ref<U>&& other)
  noexcept {  // NOLINT: implicit upcast
    take(other, other.get());
  }
  ~Ref() {
    if (auto* h = header()) {
      // Cleared: memory freed or reused later holds no stale header for a conservative scan
      // to take for a reference (still_reachable.h). An atomic store is never elided.
      s_.header.store(nullptr, kRelaxed);
      detail::ref_release(h);
    }
  }

  Ref& operator=(const Ref& other) noexcept {
    assign(other);
    return *this;
  }
  template <class U>
  requires RefConvertible<U, T> Ref& operator=(const Ref<U>& other) noexcept {
    assign(other);
    return *this;
  }
  Ref& operator=(Ref&& other) noexcept {
    if (this != &other) move_assign(other);
    return *this;
  }
  template <class U>
  requires RefConvertible<U, T> Ref& operator=(Ref<U>&& other) noexcept {
    move_assign(other);
    return *this;
  }
  Ref& operator=(std::nullptr_t) noexcept {
    replace(nullptr, nullptr);
    return *this;
  }
  void reset() noexcept { replace(nullptr, nullptr); }
  // Exchanges the two references. No count changes, but both objects' references move, so a
  // running collection hears of both.
  void swap(Ref& other) noexcept {
    detail::OpScope scope;
    auto* a = header();
    auto* b = other.header();
    s_.header.store(b, kPublish);
    other.s_.header.store(a, kPublish);
    std::swap(s_.element, other.s_.element);
    if (a) detail::touch(a);
    if (b) detail::touch(b);
  }
  friend void swap(Ref& a, Ref& b) noexcept { a.swap(b); }

  T* get() const noexcept { return static_cast<T*>(s_.element); }
  T& operator*() const noexcept { return *get(); }
  T* operator->() const noexcept { return get(); }
  explicit operator bool() const noexcept { return header() != nullptr; }

  // The strong count (what sys.getrefcount reports, minus Python's temporary).
  std::uint32_t use_count() const noexcept {
    auto* h = header();
    return h ? h->strong_count() : 0;
  }
  // Ownership order, as std::shared_ptr's: two Refs are equivalent when they own the same
  // object, whatever subobject they point at. std::owner_less<> uses it.
  template <class U>
  bool owner_before(const Ref<U>& other) const noexcept {
    return std::less<>()(header(), other.header());
  }
  template <class U>
  bool owner_before(const Weak<U>& other) const noexcept {
    return std::less<>()(header(), other.header());
  }

  // Comparisons compare get(), as std::shared_ptr's do.
  template <class U>
  friend bool operator==(const Ref& a, const Ref<U>& b) noexcept {
    return a.get() == b.get();
  }
  friend bool operator==(const Ref& a, std::nullptr_t) noexcept { return !a; }
  template <class U>
  friend std::strong_ordering operator<=>(const Ref& a, const Ref<U>& b) noexcept {
    return std::compare_three_way()(a.get(), b.get());
  }
  friend std::strong_ordering operator<=>(const Ref& a, std::nullptr_t) noexcept {
    return std::compare_three_way()(a.get(), static_cast<T*>(nullptr));
  }
  friend std::ostream& operator<<(std::ostream& os, const Ref& r) { return os << r.get(); }

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  static constexpr auto kPublish = std::memory_order_release;
  friend class AnyRef;
  friend class Visitor;
  template <class U>
  friend class Ref;
  template <class U>
  friend class Weak;
  template <class U, class... Args>
  friend Ref<U> make(Args&&... args);

  detail::ObjectHeader* header() const noexcept { return s_.header.load(kRelaxed); }
  const detail::RefSlot& slot() const noexcept { return s_; }
  // Takes over a reference the caller already counted.
  static Ref adopt(detail::ObjectHeader* h, T* element) noexcept {
    Ref r;
    r.s_.header.store(h, kRelaxed);
    r.s_.element = detail::erase_element(element);
    return r;
  }
  // Steals `other`'s reference; `element` is other.get() already converted to T*.
  template <class U>
  void take(Ref<U>& other, T* element) noexcept {
    detail::OpScope scope;
    auto* h = other.header();
    other.s_.header.store(nullptr, kRelaxed);
    other.s_.element = nullptr;
    s_.header.store(h, kPublish);
    s_.element = detail::erase_element(element);
    if (h) detail::touch(h);
  }
  template <class U>
  void assign(const Ref<U>& other) noexcept {
    detail::ObjectHeader* old;
    {  // one scope for the new reference and its store
      detail::OpScope scope;
      auto* h = other.header();
      if (h) {
        detail::touch(h);
        detail::incref(h);
      }
      old = header();
      s_.header.store(h, kPublish);
      s_.element = detail::erase_element(static_cast<T*>(other.get()));
    }
    if (old) detail::ref_release(old);
  }
  template <class U>
  void move_assign(Ref<U>& other) noexcept {
    detail::ObjectHeader* old;
    {  // one scope for the whole relocation: the reference is never in flight outside it
      detail::OpScope scope;
      auto* h = other.header();
      T* element = other.get();
      other.s_.header.store(nullptr, kRelaxed);
      other.s_.element = nullptr;
      old = header();
      s_.header.store(h, kPublish);
      s_.element = detail::erase_element(element);
      if (h) detail::touch(h);
    }
    if (old) detail::ref_release(old);
  }
  // The new value is in place before the old one is released, so a destructor that runs from
  // the release never sees this Ref pointing at a dying object.
  void replace(detail::ObjectHeader* h, T* element) noexcept {
    detail::ObjectHeader* old;
    {
      detail::OpScope scope;
      old = header();
      s_.header.store(h, kPublish);
      s_.element = detail::erase_element(element);
      if (h) detail::touch(h);
    }
    if (old) detail::ref_release(old);
  }

  detail::RefSlot s_;
};

// The casts of <memory>, for Ref. Unqualified calls (`dynamic_pointer_cast<Circle>(shape)`)
// find these or std's by argument-dependent lookup, so code written for shared_ptr compiles.
template <class T, class U>
Ref<T> static_pointer_cast(const Ref<U>& r) noexcept {
  return Ref<T>(r, static_cast<T*>(r.get()));
}
template <class T, class U>
Ref<T> const_pointer_cast(const Ref<U>& r) noexcept {
  return Ref<T>(r, const_cast<T*>(r.get()));
}
template <class T, class U>
Ref<T> reinterpret_pointer_cast(const Ref<U>& r) noexcept {
  return Ref<T>(r, reinterpret_cast<T*>(r.get()));
}
// Empty when the object is not a T (or r is empty), as std::dynamic_pointer_cast.
template <class T, class U>
Ref<T> dynamic_pointer_cast(const Ref<U>& r) noexcept {
  if (T* p = dynamic_cast<T*>(r.get())) return Ref<T>(r, p);
  return Ref<T>();
}

}  // namespace cyclegc

template <class T>
struct std::hash<cyclegc::Ref<T>> {
  std::size_t operator()(const cyclegc::Ref<T>& r) const noexcept {
    return std::hash<T*>()(r.get());
  }
};
