// Weak<T>: observes an object without keeping it alive (Python's weakref.ref, std::weak_ptr).
//
// lock() returns an empty Ref once the object has been destroyed or condemned by the collector
// (or while the collector is deciding about an object that only weak references can reach).
// The collector condemns all garbage before running any finalizer, so a finalizer never sees a
// weak reference to its cycle come back to life; a Weak made after that (to an object a
// finalizer resurrects) works, as a weakref made to a resurrected Python object does. Weak
// references are not edges: `trace` may pass them to the visitor, which ignores them.
//
// Like Ref, two words: the header, with the condemnation epoch the Weak was made in kept in its
// low bits (object_header.h), and the element pointer a lock() hands out. The first word is
// stored complemented, so that it never equals a header's address: a conservative scan for the
// program's holders (still_reachable.h) takes words that do for Refs, and a weak reference
// holds nothing.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>

#include "cyclegc/ref.h"

namespace cyclegc {

template <class T>
class Weak {
 public:
  using element_type = T;

  constexpr Weak() noexcept = default;
  template <class U>
  requires RefConvertible<U, T> Weak(const Ref<U>& r)
  noexcept {  // NOLINT: implicit like weak_ptr
    if (auto* h = r.header()) init(h, r.get());
  }
  Weak(const Weak& o) noexcept : tagged_(o.tagged_), element_(o.element_) {
    if (auto* h = header()) detail::weak_incref(h);
  }
  // Converting needs the object alive: the offset of a virtual base is read from the object.
  template <class U>
  requires RefConvertible<U, T> Weak(const Weak<U>& o)
  noexcept : tagged_(o.tagged_), element_(detail::erase_element(static_cast<T*>(o.lock().get()))) {
    if (auto* h = header()) detail::weak_incref(h);
  }
  Weak(Weak&& o) noexcept
      : tagged_(std::exchange(o.tagged_, kEmpty)), element_(std::exchange(o.element_, nullptr)) {}
  template <class U>
  requires RefConvertible<U, T> Weak(Weak<U>&& o)
  noexcept : Weak(static_cast<const Weak<U>&>(o)) { o.reset(); }
  Weak& operator=(Weak o) noexcept {
    swap(o);
    return *this;
  }
  ~Weak() {
    if (auto* h = header()) detail::weak_decref(h);
  }

  Ref<T> lock() const noexcept {
    auto* h = header();
    if (!h || !detail::ref_try_acquire(h)) return Ref<T>();
    // Checked after the reference is taken: a resurrection clears kCondemned only after the
    // epoch has moved on, so a lock that saw the flag clear sees the new epoch too.
    if (h->epoch() != epoch()) {
      detail::ref_release(h);
      return Ref<T>();
    }
    return Ref<T>::adopt(h, static_cast<T*>(element_));
  }
  // The strong count of the object, 0 once lock() would fail.
  std::uint32_t use_count() const noexcept {
    auto* h = header();
    if (!h) return 0;
    const std::uint32_t s = h->strong.load(std::memory_order_acquire);
    if (s & (detail::ObjectHeader::kCondemned | detail::ObjectHeader::kTentative)) return 0;
    if (h->epoch() != epoch()) return 0;
    return s & detail::ObjectHeader::kCountMask;
  }
  bool expired() const noexcept { return use_count() == 0; }
  void reset() noexcept { Weak().swap(*this); }
  void swap(Weak& o) noexcept {
    std::swap(tagged_, o.tagged_);
    std::swap(element_, o.element_);
  }
  friend void swap(Weak& a, Weak& b) noexcept { a.swap(b); }
  template <class U>
  bool owner_before(const Weak<U>& other) const noexcept {
    return std::less<>()(header(), other.header());
  }
  template <class U>
  bool owner_before(const Ref<U>& other) const noexcept {
    return std::less<>()(header(), other.header());
  }

 private:
  template <class U>
  friend class Weak;
  template <class U>
  friend class Ref;
  template <class U>
  friend class enable_ref_from_this;

  void init(detail::ObjectHeader* h, T* element) noexcept {
    tagged_ = ~(reinterpret_cast<std::uintptr_t>(h) | detail::weak_incref(h));
    element_ = detail::erase_element(element);
  }
  detail::ObjectHeader* header() const noexcept {
    return reinterpret_cast<detail::ObjectHeader*>(~tagged_ & ~std::uintptr_t{kEpochMask});
  }
  std::uint32_t epoch() const noexcept { return ~tagged_ & kEpochMask; }
  static constexpr std::uint32_t kEpochMask = detail::ObjectHeader::kEpochMask;
  static constexpr std::uintptr_t kEmpty = ~std::uintptr_t{0};  // no header, epoch 0

  std::uintptr_t tagged_ = kEmpty;
  void* element_ = nullptr;
};

// The std::enable_shared_from_this of cyclegc: an object made by make<T> can hand out Refs to
// itself. As in C++17, inside T's constructor (before make<T> has finished) ref_from_this()
// throws std::bad_weak_ptr and weak_from_this() is empty; so does ref_from_this() once the
// collector has condemned the object (in its finalizer and destructor).
template <class T>
class enable_ref_from_this {
 public:
  Ref<T> ref_from_this() { return locked(weak_this_); }
  Ref<const T> ref_from_this() const { return locked(Weak<const T>(weak_this_)); }
  Weak<T> weak_from_this() noexcept { return weak_this_; }
  Weak<const T> weak_from_this() const noexcept { return weak_this_; }

 protected:
  constexpr enable_ref_from_this() noexcept = default;
  // A copy is a different object: it does not share the original's weak reference.
  enable_ref_from_this(const enable_ref_from_this&) noexcept {}
  enable_ref_from_this& operator=(const enable_ref_from_this&) noexcept { return *this; }
  ~enable_ref_from_this() = default;

 private:
  template <class U, class... Args>
  friend Ref<U> make(Args&&... args);
  template <class U>
  static Ref<U> locked(const Weak<U>& w) {
    Ref<U> r = w.lock();
    if (!r) throw std::bad_weak_ptr();
    return r;
  }
  // Called by make<U>, once the object is constructed.
  template <class U>
  void attach(detail::ObjectHeader* h, U* self) noexcept {
    weak_this_.init(h, static_cast<T*>(self));
  }

  mutable Weak<T> weak_this_;
};

namespace detail {
// Finds the enable_ref_from_this base of a U, if it has exactly one accessible.
template <class T>
enable_ref_from_this<T>* ref_from_this_base(enable_ref_from_this<T>* p) noexcept {
  return p;
}
template <class U>
concept RefFromThis = requires(U* p) {
  detail::ref_from_this_base(p);
};
}  // namespace detail

}  // namespace cyclegc
