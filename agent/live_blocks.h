// The heap blocks a process has live, for finding std::shared_ptr cycles in programs that never
// link libcyclegc (heap_hooks.cc fills it from the interposed malloc family; heap_scan reads it).
// Every block has its address, its requested size and its interned allocation stack.
//
// It lives inside malloc, so it never calls malloc: its tables are mmap'd, and it is sharded by
// malloc heap with a spin lock per shard, so that two threads allocating at once rarely meet. A
// scan takes every shard's lock (lock_all): allocating threads wait, so no block it reads is
// freed under it. fork() takes them all too, so that the child's copy is whole and unlocked.
#pragma once

#include <sys/single_threaded.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace cyclegc::agent {

struct LiveBlock {
  std::uintptr_t address = 0;  // 0: an empty slot
  std::uint32_t size = 0;      // requested bytes, at most 4 GiB - 1 (larger blocks are capped)
  std::uint32_t stack = 0;     // AllocationStacks id, 0: none
};

class SpinLock {
 public:
  // Inline: every malloc and free takes one, almost always free.
  void lock() {
    if (!held_.exchange(true, std::memory_order_acquire)) return;
    lock_contended();
  }
  void unlock() { held_.store(false, std::memory_order_release); }

 private:
  void lock_contended();
  std::atomic<bool> held_{false};
};

// Held by a thread that changes a table. While the process has a single thread (glibc's
// __libc_single_threaded, cleared for good by the first pthread_create, before the new thread
// runs) there is no one to exclude, and the lock's atomic exchange is most of what tracking
// costs an allocation: glibc's malloc skips its own locks the same way. A scan or a fork takes
// every lock regardless (lock_all), from the one thread there is.
class TableGuard {
 public:
  explicit TableGuard(SpinLock& mu) : mu_(__libc_single_threaded ? nullptr : &mu) {
    if (mu_ != nullptr) mu_->lock();
  }
  ~TableGuard() {
    if (mu_ != nullptr) mu_->unlock();
  }
  TableGuard(const TableGuard&) = delete;
  TableGuard& operator=(const TableGuard&) = delete;

 private:
  SpinLock* mu_;
};

class LiveBlocks {
 public:
  static constexpr int kShards = 64;

  // False when no memory could be mapped for it: the block goes untracked, never the program
  // without its allocation.
  bool insert(std::uintptr_t address, std::size_t size, std::uint32_t stack);
  void erase(std::uintptr_t address);
  // With every lock held (lock_all), by the thread that holds them: the scan's own frees.
  void erase_locked(std::uintptr_t address);
  const LiveBlock* find_locked(std::uintptr_t address) const;

  void lock_all();
  void unlock_all();
  // With every lock held; `fn(const LiveBlock&)` for each block, in no order.
  template <typename Fn>
  void for_each_locked(Fn&& fn) const {
    for (const Shard& s : shards_) {
      for (std::size_t i = 0; i < s.capacity; ++i) {
        if (s.slots[i].address != 0) fn(s.slots[i]);
      }
    }
  }
  std::size_t size_locked() const;

 private:
  struct alignas(64) Shard {
    SpinLock mu;
    LiveBlock* slots = nullptr;
    std::size_t capacity = 0;  // a power of two, or 0 before the first block
    std::size_t count = 0;
  };
  static std::uint64_t hash(std::uintptr_t address);
  static std::size_t shard_index(std::uintptr_t address);
  Shard& shard_of(std::uintptr_t address);
  const Shard& shard_of(std::uintptr_t address) const;
  static bool grow(Shard& s);
  static void insert_into(Shard& s, const LiveBlock& b);
  static void erase_from(Shard& s, std::uintptr_t address);

  Shard shards_[kShards];
};

}  // namespace cyclegc::agent
