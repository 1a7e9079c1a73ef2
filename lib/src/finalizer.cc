#include "finalizer.h"

#include <cstdio>
#include <exception>

#include "gc_state.h"

namespace cyclegc::detail {

bool finalize_once(ObjectHeader* h) noexcept {
  if (!h->type->finalize) return false;
  if (h->strong.fetch_or(ObjectHeader::kFinalized, std::memory_order_acq_rel) &
      ObjectHeader::kFinalized) {
    return false;
  }
  try {
    h->type->finalize(h->value());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "Exception ignored in finalizer of %s: %s\n", debug_repr(h).c_str(),
                 e.what());
  } catch (...) {
    std::fprintf(stderr, "Exception ignored in finalizer of %s: unknown exception\n",
                 debug_repr(h).c_str());
  }
  return true;
}

}  // namespace cyclegc::detail
