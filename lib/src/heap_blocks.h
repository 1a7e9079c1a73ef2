// Which words are the starts of live heap blocks, and how long each is: what lets the
// conservative scan (still_reachable.cc) follow a local std::vector's buffer or a global map's
// nodes to the Refs inside them. Under a sanitizer its allocator answers exactly
// (__sanitizer_get_ownership). Otherwise glibc's chunk headers are read: a word is a block when
// the size before it is sane, the block fits in its mapping, the next chunk says this one is in
// use, and it is not sitting freed in a thread cache. A word inside some block that happens to
// look like that passes too — the scan is conservative — and blocks of another allocator
// (jemalloc, mimalloc) are not seen at all.
#pragma once

#include <cstdint>
#include <optional>

#include "memory_map.h"

namespace cyclegc::detail {

// A load of one word of memory the program owns, which another thread may be writing and a
// sanitizer may have poisoned (a redzone, a freed block): read as the kernel would, uninstrumented.
__attribute__((no_sanitize_address, no_sanitize_thread, noinline)) inline std::uintptr_t load_word(
    std::uintptr_t address) noexcept {
  return *reinterpret_cast<const volatile std::uintptr_t*>(address);
}

struct HeapBlock {
  std::uintptr_t start = 0;
  std::uintptr_t size = 0;  // usable bytes from start
};

class HeapBlocks {
 public:
  HeapBlocks();  // learns what a freed block in glibc's thread cache looks like
  // The live block that starts at `address`, if one does. With `racing` (threads that use
  // cyclegc run, unstopped) a sanitizer's allocator is not asked: a block freed between its two
  // answers makes it report an error, where reading a freed glibc chunk is only a stale read.
  std::optional<HeapBlock> block_at(std::uintptr_t address, const MemoryMap& map,
                                    bool racing) const;

 private:
  std::uintptr_t tcache_key_ = 0;
};

}  // namespace cyclegc::detail
