// Ref<T>: an owning, reference-counted pointer to an object made by cyclegc::make<T>.
//
// One machine word: a pointer to the object's header. Copy increments the strong count,
// destruction decrements it, and the object is destroyed the moment the count reaches zero, so
// refcounting handles the common case and the collector only ever sees cycles.
//
// The word is a std::atomic so that the collector may read a Ref field while the owning thread
// replaces it, without a data race. Stores that install an object are releases and the
// collector's loads acquires, so a collector that finds an object through a field also sees the
// object's construction; on x86-64 both are plain moves. That is the only
// concurrency a Ref promises: two application threads writing the same Ref still need a lock, as
// with std::shared_ptr.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
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
template <class T, class... Args>
Ref<T> make(Args&&... args);

template <class T>
class Ref {
 public:
  using element_type = T;

  constexpr Ref() noexcept = default;
  constexpr Ref(std::nullptr_t) noexcept {}  // NOLINT: implicit like shared_ptr
  Ref(const Ref& other) noexcept : ptr_(other.header()) {
    if (auto* h = header()) detail::ref_acquire(h);
  }
  // A move changes no count, but it relocates a reference, which a concurrent collection must
  // hear about (the "scan frontier" case), so it runs inside the protocol too.
  Ref(Ref&& other) noexcept {
    detail::OpScope scope;
    auto* h = other.header();
    other.ptr_.store(nullptr, kRelaxed);
    ptr_.store(h, kPublish);
    if (h) detail::touch(h);
  }
  ~Ref() {
    if (auto* h = header()) detail::ref_release(h);
  }

  Ref& operator=(const Ref& other) noexcept {
    detail::ObjectHeader* old;
    {  // one scope for the new reference and its store
      detail::OpScope scope;
      auto* h = other.header();
      if (h) {
        detail::touch(h);
        detail::incref(h);
      }
      old = header();
      ptr_.store(h, kPublish);
    }
    if (old) detail::ref_release(old);
    return *this;
  }
  Ref& operator=(Ref&& other) noexcept {
    if (this != &other) {
      detail::ObjectHeader* old;
      {  // one scope for the whole relocation: the reference is never in flight outside it
        detail::OpScope scope;
        auto* h = other.header();
        other.ptr_.store(nullptr, kRelaxed);
        old = header();
        ptr_.store(h, kPublish);
        if (h) detail::touch(h);
      }
      if (old) detail::ref_release(old);
    }
    return *this;
  }
  Ref& operator=(std::nullptr_t) noexcept {
    replace(nullptr);
    return *this;
  }
  void reset() noexcept { replace(nullptr); }

  T* get() const noexcept {
    auto* h = header();
    return h ? static_cast<T*>(h->value()) : nullptr;
  }
  T& operator*() const noexcept { return *get(); }
  T* operator->() const noexcept { return get(); }
  explicit operator bool() const noexcept { return header() != nullptr; }

  friend bool operator==(const Ref& a, const Ref& b) noexcept { return a.header() == b.header(); }
  friend bool operator==(const Ref& a, std::nullptr_t) noexcept { return !a; }

  // The strong count (what sys.getrefcount reports, minus Python's temporary).
  std::uint32_t use_count() const noexcept {
    auto* h = header();
    return h ? h->strong_count() : 0;
  }

 private:
  static constexpr auto kRelaxed = std::memory_order_relaxed;
  static constexpr auto kPublish = std::memory_order_release;
  friend class AnyRef;
  friend class Visitor;
  friend class Weak<T>;
  template <class U, class... Args>
  friend Ref<U> make(Args&&... args);

  detail::ObjectHeader* header() const noexcept { return ptr_.load(kRelaxed); }
  const std::atomic<detail::ObjectHeader*>& slot() const noexcept { return ptr_; }
  // Takes over a reference the caller already counted.
  static Ref adopt(detail::ObjectHeader* h) noexcept {
    Ref r;
    r.ptr_.store(h, kRelaxed);
    return r;
  }
  // The new value is in place before the old one is released, so a destructor that runs from
  // the release never sees this Ref pointing at a dying object.
  void replace(detail::ObjectHeader* h) noexcept {
    detail::ObjectHeader* old;
    {
      detail::OpScope scope;
      old = header();
      ptr_.store(h, kPublish);
      if (h) detail::touch(h);
    }
    if (old) detail::ref_release(old);
  }

  std::atomic<detail::ObjectHeader*> ptr_{nullptr};
};

}  // namespace cyclegc

template <class T>
struct std::hash<cyclegc::Ref<T>> {
  std::size_t operator()(const cyclegc::Ref<T>& r) const noexcept {
    return std::hash<const void*>()(r.get());
  }
};
