#include "live_blocks.h"

#include <sched.h>
#include <sys/mman.h>

#include <limits>

namespace cyclegc::agent {

void SpinLock::lock_contended() {
  for (int spins = 0; held_.exchange(true, std::memory_order_acquire);) {
    while (held_.load(std::memory_order_relaxed)) {
      // A holder that was preempted (or is scanning the heap) is not helped by spinning.
      if (++spins > 64) {
        sched_yield();
      } else {
        __builtin_ia32_pause();
      }
    }
  }
}

std::uint64_t LiveBlocks::hash(std::uintptr_t address) {
  // malloc aligns to 16: the low bits say nothing. Fibonacci hashing spreads the rest.
  return (address >> 4) * 0x9E3779B97F4A7C15ull;
}

// By the 64 MiB window the address is in: glibc gives each thread an arena of its own, in heaps
// of 64 MiB aligned to their size, so a thread's blocks fall in shards of its own, whose cache
// lines stay with it. (By the address itself, every thread's calls spread over every shard, so
// each shard's line moved between the cores on almost every call.)
std::size_t LiveBlocks::shard_index(std::uintptr_t address) {
  return static_cast<std::size_t>(((address >> 26) * 0x9E3779B97F4A7C15ull) >> 58);
}

LiveBlocks::Shard& LiveBlocks::shard_of(std::uintptr_t address) {
  return shards_[shard_index(address)];
}
const LiveBlocks::Shard& LiveBlocks::shard_of(std::uintptr_t address) const {
  return shards_[shard_index(address)];
}

// Linear probing from the hash's low bits (the shard took the high ones).
void LiveBlocks::insert_into(Shard& s, const LiveBlock& b) {
  const std::size_t mask = s.capacity - 1;
  for (std::size_t i = hash(b.address) & mask;; i = (i + 1) & mask) {
    if (s.slots[i].address == 0) {
      s.slots[i] = b;
      ++s.count;
      return;
    }
    if (s.slots[i].address == b.address) {  // a block freed behind our back: it is this one now
      s.slots[i] = b;
      return;
    }
  }
}

bool LiveBlocks::grow(Shard& s) {
  const std::size_t capacity = s.capacity ? s.capacity * 2 : 1024;
  void* mem = mmap(nullptr, capacity * sizeof(LiveBlock), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return false;
  Shard old = {};
  old.slots = s.slots;
  old.capacity = s.capacity;
  s.slots = static_cast<LiveBlock*>(mem);
  s.capacity = capacity;
  s.count = 0;
  for (std::size_t i = 0; i < old.capacity; ++i) {
    if (old.slots[i].address != 0) insert_into(s, old.slots[i]);
  }
  if (old.slots) munmap(old.slots, old.capacity * sizeof(LiveBlock));
  return true;
}

bool LiveBlocks::insert(std::uintptr_t address, std::size_t size, std::uint32_t stack) {
  Shard& s = shard_of(address);
  const LiveBlock b{address,
                    static_cast<std::uint32_t>(size < std::numeric_limits<std::uint32_t>::max()
                                                   ? size
                                                   : std::numeric_limits<std::uint32_t>::max()),
                    stack};
  const TableGuard guard(s.mu);
  // At most 3/4 full, so that a probe ends soon.
  const bool room = (s.count + 1) * 4 <= s.capacity * 3 || grow(s);
  if (room) insert_into(s, b);
  return room;
}

// Backward-shift deletion: no tombstones, so probes stay short however many blocks come and go.
void LiveBlocks::erase_from(Shard& s, std::uintptr_t address) {
  if (s.capacity == 0) return;
  const std::size_t mask = s.capacity - 1;
  std::size_t i = hash(address) & mask;
  while (s.slots[i].address != address) {
    if (s.slots[i].address == 0) return;  // not tracked: made before the hooks, or by the scan
    i = (i + 1) & mask;
  }
  for (std::size_t j = (i + 1) & mask;; j = (j + 1) & mask) {
    if (s.slots[j].address == 0) break;
    const std::size_t home = hash(s.slots[j].address) & mask;
    // Move j back into the hole at i unless its home lies cyclically in (i, j].
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (stays) continue;
    s.slots[i] = s.slots[j];
    i = j;
  }
  s.slots[i] = {};
  --s.count;
}

void LiveBlocks::erase(std::uintptr_t address) {
  Shard& s = shard_of(address);
  const TableGuard guard(s.mu);
  erase_from(s, address);
}

void LiveBlocks::erase_locked(std::uintptr_t address) { erase_from(shard_of(address), address); }

const LiveBlock* LiveBlocks::find_locked(std::uintptr_t address) const {
  const Shard& s = shard_of(address);
  if (s.capacity == 0) return nullptr;
  const std::size_t mask = s.capacity - 1;
  for (std::size_t i = hash(address) & mask;; i = (i + 1) & mask) {
    if (s.slots[i].address == address) return &s.slots[i];
    if (s.slots[i].address == 0) return nullptr;
  }
}

void LiveBlocks::lock_all() {
  for (Shard& s : shards_) s.mu.lock();
}
void LiveBlocks::unlock_all() {
  for (Shard& s : shards_) s.mu.unlock();
}

std::size_t LiveBlocks::size_locked() const {
  std::size_t n = 0;
  for (const Shard& s : shards_) n += s.count;
  return n;
}

}  // namespace cyclegc::agent
