// make<T>(args...): the only way to create a managed object.
//
// Allocates header and T in one block (see object_header.h), constructs T in place and, when T
// has a `trace` member, registers it with the collector — which may run a collection first, as
// CPython does when an allocation passes the generation-0 threshold.
#pragma once

#include <new>
#include <utility>

#include "cyclegc/mutator.h"
#include "cyclegc/ref.h"
#include "cyclegc/type_info.h"
#include "cyclegc/weak.h"

namespace cyclegc {
namespace detail {
void* allocate_block(const TypeInfo& info);
void deallocate_block(void* block, const TypeInfo& info) noexcept;
}  // namespace detail

template <class T, class... Args>
Ref<T> make(Args&&... args) {
  static_assert(!std::is_array_v<T> && !std::is_reference_v<T>, "make<T> needs an object type");
  using Info = detail::TypeInfoFor<T>;
  const detail::TypeInfo& info = Info::get();
  // A thread that creates objects may go on to change them: the collector must know it exists.
  if (!detail::t_mutator.registered) detail::register_mutator();
  detail::safepoint();
  char* block = static_cast<char*>(detail::allocate_block(info));
  constexpr bool kTracked = Traceable<T>;
  auto* h = new (block + Info::kHeaderFromStart)
      detail::ObjectHeader{{kTracked ? detail::kBornYoungStrong : detail::kBornStrong},
                           {kTracked ? detail::kBornYoungWeak : detail::kBornWeak},
                           &info};
  try {
    new (h->value()) T(std::forward<Args>(args)...);
  } catch (...) {
    detail::deallocate_block(block, info);
    throw;
  }
  T* value = static_cast<T*>(h->value());
  if constexpr (detail::RefFromThis<T>) {
    detail::ref_from_this_base(value)->attach(h, value);
  }
  if constexpr (kTracked) detail::track(h);
  return Ref<T>::adopt(h, value);
}

}  // namespace cyclegc
