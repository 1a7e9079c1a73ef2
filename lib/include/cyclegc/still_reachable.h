// Which live objects the program still holds, as Valgrind and LeakSanitizer decide it: an
// object is *still reachable* when a reference to it sits where the program can still get at
// it — a thread's stack or registers, a thread-local, a global — or in memory reachable from
// there (a local std::vector's buffer, a global map's nodes), directly or through the objects'
// traces. Any other live object is *leaked*: kept alive only by references from memory the
// program has lost, such as a std::function capture owned by a leaked cycle.
//
// No trace sees those holders, so they are found by a conservative scan: a Ref is one word
// holding its header's address, so every aligned word of the roots that equals a live header is
// taken for a reference (a Weak is stored so that it never does). Heap memory is followed from
// block starts the allocator confirms (glibc's malloc, or a sanitizer's), as LeakSanitizer
// follows its own blocks. A stale word that happens to equal a header can make a leaked object
// look reachable; a reference kept only in a register of a thread that could not be stopped, or
// behind an interior pointer, or in another allocator's blocks, can make a held object look
// leaked. The agent asks this at the program's end; the gtest checker after each test.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cyclegc/any_ref.h"

namespace cyclegc {

// Where a still reachable object is held from: the first root the scan reached it from.
struct Holder {
  enum class Kind { kStack, kGlobal };
  Kind kind = Kind::kStack;
  // kStack: the thread, as gettid() and pthread_getname_np name it (the process's first thread
  // has the process's id). Its stack includes its registers and its thread-locals.
  long thread_id = 0;
  std::string thread_name;
  // kGlobal: the word that holds, the object file it lies in, and the symbol dladdr() finds for
  // it (empty when the dynamic symbol table has none; a symbolizer may do better).
  const void* address = nullptr;
  std::string module;
  std::string symbol;
};

// How reports name a holder: "main thread", "thread 4242 (worker)", the global's symbol
// ("g_sessions"; a symbolizer may set a better one first), or "a global in app".
std::string holder_name(const Holder& holder);

struct StillReachable {
  std::vector<AnyRef> objects;      // every still reachable live tracked object, once
  std::vector<std::size_t> holder;  // objects[i] is held from holders[holder[i]]
  std::vector<Holder> holders;
  // False when the scan could not run (no /proc/self/maps): then nothing is known, and every
  // live object must be taken for held.
  bool scanned = false;
};

// Scans the calling process now. Stops the other threads that use cyclegc at safepoints while
// it reads their stacks (those it cannot stop within 20 ms are scanned whole, running).
StillReachable find_still_reachable();

// Zeroes the unused stack below the calling frame. The frames of a later call pass through
// memory that dead frames left full of old values, and those frames are scanned like any
// other: a checker calls this, then the function that calls find_still_reachable(), so that
// a leak created by the code that ran before is not taken for held.
void clear_stack_below() noexcept;

}  // namespace cyclegc
