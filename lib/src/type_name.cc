// Human-readable type names and object reprs for debug output, reports and AnyRef.
#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "cyclegc/any_ref.h"
#include "gc_state.h"

namespace cyclegc::detail {

std::string demangle(const char* mangled) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(mangled, nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(mangled);
}

// Called once per type from TypeInfoFor<T>::get(); the names live as long as the process and
// stay reachable from the TypeInfo, so leak checkers do not report them.
const char* TypeInfo::name() const {
  if (const char* n = name_cache.load(std::memory_order_acquire)) return n;
  char* made = strdup(demangle(id->name()).c_str());
  const char* expected = nullptr;
  if (name_cache.compare_exchange_strong(expected, made, std::memory_order_acq_rel)) return made;
  std::free(made);  // another thread's copy won
  return expected;
}

std::string debug_repr(const ObjectHeader* h) {
  char address[32];
  std::snprintf(address, sizeof address, "%p", h->value());
  return std::string("<") + h->type->name() + " " + address + ">";
}

}  // namespace cyclegc::detail

namespace cyclegc {

std::string AnyRef::repr() const {
  if (!h_) return "nullptr";
  return h_->type->repr ? h_->type->repr(h_->value()) : detail::debug_repr(h_);
}

}  // namespace cyclegc
