// Compile-time description of a managed type: how big its block is and which of the optional
// hooks (trace, finalize, repr) it provides. One constant TypeInfo exists per type; the collector
// reaches every type-specific operation through it, so no base class or vtable is required of T.
#pragma once

#include <algorithm>
#include <concepts>
#include <new>
#include <sstream>
#include <string>
#include <type_traits>

#include "cyclegc/object_header.h"
#include "cyclegc/visitor.h"

namespace cyclegc {

// A finalizer is Python's __del__ under PEP 442: run once, before the object's cycle is cleared;
// it may resurrect the object by storing a Ref to it somewhere reachable.
template <class T>
concept Finalizable = requires(T& t) {
  t.finalize();
};

// `std::string repr() const` gives the printable form used in debug output and reports
// (e.g. "Graph(one)"); failing that, `operator<<` is used.
template <class T>
concept HasRepr = requires(const T& t) {
  { t.repr() } -> std::convertible_to<std::string>;
};
template <class T>
concept Streamable = requires(std::ostream& os, const T& t) {
  os << t;
};

namespace detail {

template <class T>
struct TypeInfoFor {
  static constexpr std::size_t kAlign = std::max(alignof(T), alignof(ObjectHeader));
  static constexpr std::size_t kPrefix = Traceable<T> ? sizeof(GcLinks) : 0;
  // The T starts at the first suitably aligned offset after prefix + header.
  static constexpr std::size_t kValueFromStart =
      (kPrefix + sizeof(ObjectHeader) + kAlign - 1) / kAlign * kAlign;
  static constexpr std::size_t kHeaderFromStart = kValueFromStart - sizeof(ObjectHeader);

  static void trace(const void* v, Visitor& vis) {
    if constexpr (Traceable<T>) static_cast<const T*>(v)->trace(vis);
  }
  static void finalize(void* v) {
    if constexpr (Finalizable<T>) static_cast<T*>(v)->finalize();
  }
  static void destroy(void* v) noexcept { static_cast<T*>(v)->~T(); }
  static std::string repr(const void* v) {
    const T& t = *static_cast<const T*>(v);
    if constexpr (HasRepr<T>) {
      return t.repr();
    } else if constexpr (Streamable<T>) {
      std::ostringstream os;
      os << t;
      return os.str();
    } else {
      return {};  // never called: the TypeInfo leaves repr null
    }
  }

  static constinit inline TypeInfo info{
      &typeid(T),
      sizeof(T),
      kValueFromStart - kHeaderFromStart,
      kHeaderFromStart,
      kValueFromStart + sizeof(T),
      kAlign,
      Traceable<T> ? &trace : nullptr,
      Finalizable<T> ? &finalize : nullptr,
      &destroy,
      (HasRepr<T> || Streamable<T>) ? &repr : nullptr,
  };
  static const TypeInfo& get() { return info; }
};

}  // namespace detail
}  // namespace cyclegc
