// Interned allocation stacks for the heap hooks: raw return addresses, stored once per distinct
// stack, so that a million blocks made at one call site cost one stack and a 4-byte id each.
// Like LiveBlocks it lives inside malloc and never calls it: the stacks go in an mmap'd arena
// and the index is an open-addressing table of arena offsets, under one spin lock that a thread
// repeating one of its recent stacks does not take.
#pragma once

#include <cstddef>
#include <cstdint>

#include "live_blocks.h"

namespace cyclegc::agent {

class AllocationStacks {
 public:
  static constexpr int kMaxFrames = 64;

  // Inline: the hooks hash every stack they capture. Each frame's product is independent of the
  // others' (the multiplies overlap, where a chain through h would wait for each), rotated by its
  // position so that order counts; then mixed.
  static std::uint64_t hash(const std::uintptr_t* pcs, int n) {
    if (n > kMaxFrames) n = kMaxFrames;
    std::uint64_t h = static_cast<std::uint64_t>(n);
    for (int i = 0; i < n; ++i) {
      const std::uint64_t x = pcs[i] * 0x9E3779B97F4A7C15ull;
      const int r = (i * 13) & 63;
      h ^= r == 0 ? x : (x << r) | (x >> (64 - r));
    }
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    return h ^ (h >> 29);
  }
  // The id of the stack `pcs[0..n)` whose hash is `h`, interned now if new; 0 when memory ran
  // out.
  std::uint32_t intern(const std::uintptr_t* pcs, int n, std::uint64_t h);
  // The frames of stack `id` (outermost last) and how many; null for 0 or an unknown id.
  const std::uintptr_t* frames(std::uint32_t id, int* n) const;

  void lock() { mu_.lock(); }
  void unlock() { mu_.unlock(); }

 private:
  bool reserve_arena();
  bool grow_index();

  SpinLock mu_;
  // The arena: [count][pc]... per stack, in words; an id is the word offset of its count.
  std::uintptr_t* arena_ = nullptr;
  std::size_t arena_words_ = 0, arena_used_ = 1;  // offset 0 is id 0: no stack
  std::uint32_t* index_ = nullptr;                // ids, 0: empty
  std::size_t index_capacity_ = 0, index_count_ = 0;
};

}  // namespace cyclegc::agent
