#include "heap_blocks.h"

#include <cstdlib>

extern "C" {
// The sanitizer allocators' interface (sanitizer/allocator_interface.h), present only when a
// sanitizer runtime is loaded.
int __sanitizer_get_ownership(const volatile void* p) __attribute__((weak));
std::size_t __sanitizer_get_allocated_size(const volatile void* p) __attribute__((weak));
}

namespace cyclegc::detail {
namespace {

// glibc's chunk layout (malloc/malloc.c): a chunk is [prev_size][size | flags][user data...];
// the pointer malloc returns is two words in. The next chunk's PREV_INUSE flag says whether
// this one is allocated; chunks served by mmap stand alone, page-aligned.
constexpr std::uintptr_t kWord = sizeof(std::uintptr_t);
constexpr std::uintptr_t kPrevInUse = 1, kIsMmapped = 2, kFlags = 7;
constexpr std::uintptr_t kMinChunk = 4 * kWord, kAlign = 2 * kWord, kPage = 4096;

bool sanitizer_allocator() { return __sanitizer_get_ownership != nullptr; }

// A block freed into glibc's per-thread cache (2.34 and later) keeps the cache's key in its
// second word and looks allocated to its neighbour; this learns the key from a block freed on
// purpose (reading freed memory, which only glibc's allocator lets us do).
std::uintptr_t learn_tcache_key() {
  if (sanitizer_allocator()) return 0;
  void* volatile p = std::malloc(3 * kWord);
  if (!p) return 0;
  std::free(p);
  const std::uintptr_t key = load_word(reinterpret_cast<std::uintptr_t>(p) + kWord);
  return key;
}

}  // namespace

HeapBlocks::HeapBlocks() : tcache_key_(learn_tcache_key()) {}

std::optional<HeapBlock> HeapBlocks::block_at(std::uintptr_t address, const MemoryMap& map,
                                              bool racing) const {
  if (address % kAlign != 0) return std::nullopt;
  const Mapping* m = map.find(address);
  if (!m || !m->writable) return std::nullopt;
  if (sanitizer_allocator()) {
    if (racing) return std::nullopt;
    const volatile void* p = reinterpret_cast<const volatile void*>(address);
    if (!__sanitizer_get_ownership(p)) return std::nullopt;
    return HeapBlock{address, __sanitizer_get_allocated_size(p)};
  }
  if (!m->path.empty() && m->path != "[heap]") return std::nullopt;  // malloc's are anonymous
  const std::uintptr_t chunk = address - 2 * kWord;
  if (chunk < m->lo) return std::nullopt;
  const std::uintptr_t size_word = load_word(chunk + kWord);
  const std::uintptr_t size = size_word & ~kFlags;
  if (size < kMinChunk || size % kAlign != 0 || size > m->hi - chunk) return std::nullopt;
  if (size_word & kIsMmapped) {
    const std::uintptr_t offset = load_word(chunk);  // from the start of its mapping
    if (offset > chunk - m->lo || (chunk - offset) % kPage != 0 || (offset + size) % kPage != 0)
      return std::nullopt;
    return HeapBlock{address, size - 2 * kWord};
  }
  if (size + 2 * kWord > m->hi - chunk) return std::nullopt;  // the next chunk's header too
  if (!(load_word(chunk + size + kWord) & kPrevInUse)) return std::nullopt;  // free
  if (tcache_key_ != 0 && load_word(address + kWord) == tcache_key_) return std::nullopt;
  return HeapBlock{address, size - kWord};  // up to the next chunk's size word
}

}  // namespace cyclegc::detail
