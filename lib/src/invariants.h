// Run-time checks of the library's invariants, as CPython's validate_list and gc_decref's
// "refcount is too small": on in debug builds and in the sanitizer trees (where a violated
// invariant would otherwise show up, if at all, as a use-after-free far from its cause), off in
// release builds, where they cost nothing. A failed check names the invariant and aborts.
#pragma once

#include <cstdio>
#include <cstdlib>

#if !defined(NDEBUG) || defined(CYCLEGC_CHECK_INVARIANTS)
#define CYCLEGC_INVARIANTS_ON 1
#else
#define CYCLEGC_INVARIANTS_ON 0
#endif

namespace cyclegc::detail {

inline constexpr bool kCheckInvariants = CYCLEGC_INVARIANTS_ON;

[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) noexcept {
  std::fprintf(stderr, "cyclegc: invariant violated at %s:%d: %s\n", file, line, what);
  std::abort();
}

}  // namespace cyclegc::detail

// `condition` is evaluated only when checks are on.
#define CYCLEGC_INVARIANT(condition, what)                             \
  do {                                                                 \
    if constexpr (::cyclegc::detail::kCheckInvariants) {               \
      if (!(condition)) [[unlikely]]                                   \
        ::cyclegc::detail::invariant_failed(what, __FILE__, __LINE__); \
    }                                                                  \
  } while (false)
