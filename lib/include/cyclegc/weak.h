// Weak<T>: observes an object without keeping it alive (Python's weakref.ref).
//
// lock() returns an empty Ref once the object has been destroyed or condemned by the collector
// (or while the collector is deciding about an object that only weak references can reach).
// The collector condemns all garbage before running any finalizer, so a finalizer never sees a
// weak reference to its cycle come back to life. Weak references are not edges: `trace` may pass
// them to the visitor, which ignores them.
#pragma once

#include "cyclegc/ref.h"

namespace cyclegc {

template <class T>
class Weak {
 public:
  constexpr Weak() noexcept = default;
  Weak(const Ref<T>& r) noexcept : h_(r.header()) {  // NOLINT: implicit like weak_ptr
    if (h_) detail::weak_incref(h_);
  }
  Weak(const Weak& o) noexcept : h_(o.h_) {
    if (h_) detail::weak_incref(h_);
  }
  Weak(Weak&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Weak& operator=(Weak o) noexcept {
    std::swap(h_, o.h_);
    return *this;
  }
  ~Weak() {
    if (h_) detail::weak_decref(h_);
  }

  Ref<T> lock() const noexcept {
    return h_ && detail::ref_try_acquire(h_) ? Ref<T>::adopt(h_) : Ref<T>();
  }
  bool expired() const noexcept {
    if (!h_) return true;
    auto s = h_->strong.load(std::memory_order_acquire);
    return (s & detail::ObjectHeader::kCountMask) == 0 ||
           (s & (detail::ObjectHeader::kCondemned | detail::ObjectHeader::kTentative));
  }
  void reset() noexcept { Weak().swap(*this); }
  void swap(Weak& o) noexcept { std::swap(h_, o.h_); }

 private:
  detail::ObjectHeader* h_ = nullptr;
};

}  // namespace cyclegc
