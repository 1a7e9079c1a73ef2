// AnyRef: a strong reference to a managed object of any type.
//
// The collector's introspection API (get_objects, get_referrers, garbage, ...) returns objects of
// every type in one list, as Python's gc module does; AnyRef is the element of those lists. It
// owns a reference like Ref<T> does, prints itself, and gives back a typed Ref<T> on request.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "cyclegc/ref.h"
#include "cyclegc/type_info.h"

namespace cyclegc {

class AnyRef {
 public:
  AnyRef() noexcept = default;
  template <class T>
  AnyRef(const Ref<T>& r) noexcept : h_(r.header()) {  // NOLINT: implicit, as a list element
    if (h_) detail::ref_acquire(h_);
  }
  AnyRef(const AnyRef& o) noexcept : h_(o.h_) {
    if (h_) detail::ref_acquire(h_);
  }
  AnyRef(AnyRef&& o) noexcept {
    detail::OpScope scope;
    h_ = std::exchange(o.h_, nullptr);
    if (h_) detail::touch(h_);
  }
  AnyRef& operator=(AnyRef o) noexcept {
    detail::OpScope scope;
    std::swap(h_, o.h_);
    if (h_) detail::touch(h_);
    return *this;
  }
  ~AnyRef() {
    if (detail::ObjectHeader* h = h_) {
      // Cleared, as ~Ref clears its slot: through a volatile store, which is never elided.
      *const_cast<detail::ObjectHeader* volatile*>(&h_) = nullptr;
      detail::ref_release(h);
    }
  }

  explicit operator bool() const noexcept { return h_ != nullptr; }
  // The demangled C++ type name, e.g. "Graph".
  const char* type_name() const noexcept { return h_ ? h_->type->name() : "nullptr"; }
  // The address of the object itself (what Python calls its id).
  const void* address() const noexcept { return h_ ? h_->value() : nullptr; }
  // The object's printable form ("Graph(one)"), or "<Graph 0x...>" when its type has none.
  std::string repr() const;

  template <class T>
  bool is() const noexcept {
    return h_ && h_->type == &detail::TypeInfoFor<T>::get();
  }
  // A typed reference, empty when the object is not a T.
  template <class T>
  Ref<T> as() const noexcept {
    if (!is<T>()) return Ref<T>();
    detail::ref_acquire(h_);
    return Ref<T>::adopt(h_, static_cast<T*>(h_->value()));
  }

  friend bool operator==(const AnyRef& a, const AnyRef& b) noexcept { return a.h_ == b.h_; }
  template <class T>
  friend bool operator==(const AnyRef& a, const Ref<T>& b) noexcept {
    return a.h_ == b.header();
  }

  // For the library: the header, and adoption of an already-counted reference.
  detail::ObjectHeader* header() const noexcept { return h_; }
  static AnyRef adopt(detail::ObjectHeader* h) noexcept {
    AnyRef r;
    r.h_ = h;
    return r;
  }

 private:
  detail::ObjectHeader* h_ = nullptr;
};

}  // namespace cyclegc
