#include "allocation_stacks.h"

#include <sys/mman.h>

#include <cstring>

namespace cyclegc::agent {
namespace {

// Address space reserved for stacks, touched only as used: 2^25 words (256 MiB) hold millions
// of distinct stacks, and ids fit in 32 bits.
constexpr std::size_t kArenaWords = std::size_t{1} << 25;

}  // namespace

bool AllocationStacks::reserve_arena() {
  void* mem = mmap(nullptr, kArenaWords * sizeof(std::uintptr_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (mem == MAP_FAILED) return false;
  arena_ = static_cast<std::uintptr_t*>(mem);
  arena_words_ = kArenaWords;
  return true;
}

bool AllocationStacks::grow_index() {
  const std::size_t capacity = index_capacity_ ? index_capacity_ * 2 : 4096;
  void* mem = mmap(nullptr, capacity * sizeof(std::uint32_t), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return false;
  auto* index = static_cast<std::uint32_t*>(mem);
  for (std::size_t i = 0; i < index_capacity_; ++i) {
    const std::uint32_t id = index_[i];
    if (id == 0) continue;
    const auto n = static_cast<int>(arena_[id]);
    for (std::size_t j = hash(arena_ + id + 1, n) & (capacity - 1);; j = (j + 1) & (capacity - 1)) {
      if (index[j] == 0) {
        index[j] = id;
        break;
      }
    }
  }
  if (index_) munmap(index_, index_capacity_ * sizeof(std::uint32_t));
  index_ = index;
  index_capacity_ = capacity;
  return true;
}

std::uint32_t AllocationStacks::intern(const std::uintptr_t* pcs, int n, std::uint64_t h) {
  if (n <= 0) return 0;
  if (n > kMaxFrames) n = kMaxFrames;
  const TableGuard guard(mu_);
  std::uint32_t found = 0;
  if ((arena_ || reserve_arena()) && ((index_count_ + 1) * 2 <= index_capacity_ || grow_index())) {
    const std::size_t mask = index_capacity_ - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const std::uint32_t id = index_[i];
      if (id == 0) {
        if (arena_used_ + 1 + static_cast<std::size_t>(n) > arena_words_) break;  // full
        found = static_cast<std::uint32_t>(arena_used_);
        arena_[arena_used_] = static_cast<std::uintptr_t>(n);
        std::memcpy(arena_ + arena_used_ + 1, pcs, sizeof(std::uintptr_t) * n);
        arena_used_ += 1 + static_cast<std::size_t>(n);
        index_[i] = found;
        ++index_count_;
        break;
      }
      if (arena_[id] == static_cast<std::uintptr_t>(n) &&
          std::memcmp(arena_ + id + 1, pcs, sizeof(std::uintptr_t) * n) == 0) {
        found = id;
        break;
      }
    }
  }
  return found;
}

const std::uintptr_t* AllocationStacks::frames(std::uint32_t id, int* n) const {
  if (id == 0 || id >= arena_used_) return nullptr;
  *n = static_cast<int>(arena_[id]);
  return arena_ + id + 1;
}

}  // namespace cyclegc::agent
