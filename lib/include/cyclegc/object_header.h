// The block layout shared by every object that cyclegc::make<T> creates.
//
// A block is [GcLinks][ObjectHeader][T] for types the collector tracks (they have a `trace`
// member) and [ObjectHeader][T] for plain refcounted types, so an untracked object costs exactly
// what a std::make_shared control block costs (16 bytes) and a tracked one 32 (CPython's GC head
// plus object header are also 32). A Ref<T> is a pointer to the ObjectHeader.
//
// The header is written with the background collector in mind: the strong count and the two
// collector flags that application threads must observe (CONDEMNED, FINALIZED) share one atomic
// word, so `Weak::lock()` can refuse an object the collector has condemned in the same
// compare-and-swap that takes the reference, and the collector can flag an object without a lock.
#pragma once

#if __cplusplus < 202002L
#error "cyclegc needs C++20 or later (-std=c++20)"
#endif

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <typeinfo>

namespace cyclegc {

class Visitor;

namespace detail {

// Describes one C++ type to the collector; one constant instance per type (see type_info.h).
struct TypeInfo {
  const std::type_info* id;  // name(): demangled from it when first asked
  std::size_t value_size;    // sizeof(T)
  std::size_t value_offset;  // from the ObjectHeader to the T
  std::size_t block_offset;  // from the start of the allocation to the ObjectHeader
  std::size_t block_size;
  std::size_t block_align;
  void (*trace)(const void* value, Visitor& v);  // null: not a container, never tracked
  void (*finalize)(void* value);                 // null: no finalizer
  void (*destroy)(void* value) noexcept;         // runs ~T()
  std::string (*repr)(const void* value);        // null: "<Type 0x...>"
  // Learned by the collector the first time a trace of this type reaches a container: from
  // then on, while other threads run, its objects are traced only while they are stopped.
  mutable std::atomic<bool> reads_containers{false};
  // Demangled once, on first use (never in make<>): the TypeInfo itself is constant-initialized,
  // so making an object takes no initialization guard, which another thread could be holding
  // when the program forks.
  mutable std::atomic<const char*> name_cache{nullptr};
  const char* name() const;
  bool tracked() const { return trace != nullptr; }
};

// Intrusive generation-list links, present only in tracked blocks, changed only under the
// collector's lock — except for the objects a collection has taken private, whose `prev` it
// borrows for gc_refs and scratch flags, as CPython does. `prev` is atomic because a collection
// reads it on any object a reference points to, while another thread may be unlinking a
// neighbour.
struct GcLinks {
  GcLinks* next;
  std::atomic<std::uintptr_t> prev;
};

struct ObjectHeader {
  // Low 27 bits: strong count. The flags above it, all set by atomic read-modify-writes so that
  // they order with the count:
  //   kYoung      tracked, and still in its thread's young buffer, on no generation list
  //               (lib/src/thread_buffers.h); cleared only while the count is not zero
  //   kCondemned  the collector found the object garbage: weak references read empty
  //   kFinalized  finalize() has run (PEP 442: at most once)
  //   kDirty      a reference to the object was created, dropped or moved during a collection
  //   kTentative  the collector is deciding: Weak::lock() refuses, as for a condemned object
  // Every increment checks the count it replaced and stops the program before the count could
  // carry into the flags (count_overflow), so no overflow can ever free a live object.
  std::atomic<std::uint32_t> strong;
  // Low 29 bits: weak references plus one held collectively by all strong references, as in
  // libstdc++'s shared_ptr: whoever drops it to zero frees the block. Top 3 bits: the
  // condemnation epoch, advanced each time the collector condemns the object. A Weak remembers
  // the epoch it was made in, so a weak reference made before a condemnation stays empty even
  // when a finalizer resurrects the object, and one made afterwards works (CPython clears the
  // old weakrefs of garbage and lets new ones be made).
  std::atomic<std::uint32_t> weak;
  const TypeInfo* type;

  static constexpr std::uint32_t kCountMask = (1u << 27) - 1;
  static constexpr std::uint32_t kYoung = 1u << 27;
  static constexpr std::uint32_t kTentative = 1u << 28;
  static constexpr std::uint32_t kDirty = 1u << 29;
  static constexpr std::uint32_t kFinalized = 1u << 30;
  static constexpr std::uint32_t kCondemned = 1u << 31;

  static constexpr int kEpochShift = 29;
  static constexpr std::uint32_t kWeakCountMask = (1u << kEpochShift) - 1;
  static constexpr std::uint32_t kEpochMask = 7;

  std::uint32_t strong_count() const { return strong.load(std::memory_order_relaxed) & kCountMask; }
  std::uint32_t epoch() const { return weak.load(std::memory_order_acquire) >> kEpochShift; }
  void* value() { return reinterpret_cast<char*>(this) + type->value_offset; }
  const void* value() const { return reinterpret_cast<const char*>(this) + type->value_offset; }
  GcLinks* links() { return reinterpret_cast<GcLinks*>(this) - 1; }
  static ObjectHeader* from_links(GcLinks* l) { return reinterpret_cast<ObjectHeader*>(l + 1); }
};
static_assert(sizeof(ObjectHeader) == 16, "the header must stay two words");
static_assert(alignof(ObjectHeader) > ObjectHeader::kEpochMask,
              "a Weak keeps the epoch in the low bits");
static_assert(sizeof(GcLinks) == 16);

// The two words of a Ref (ref.h) as the collector sees them: it reads `header` only; a
// clearing visitor (garbage, which no other thread can reach) empties both.
struct RefSlot {
  std::atomic<ObjectHeader*> header{nullptr};
  void* element = nullptr;
};

// Prints which count overflowed and aborts: a count that wrapped would free a live object.
[[noreturn]] void count_overflow(const ObjectHeader* h, const char* which) noexcept;

// Raw reference-count operations. Applications reach them through Ref, Weak and AnyRef, which
// wrap them in the collector protocol (mutator.h); the collector calls them directly.
inline void check_strong(const ObjectHeader* h, std::uint32_t replaced) noexcept {
  if ((replaced & ObjectHeader::kCountMask) >= ObjectHeader::kCountMask - 1) [[unlikely]] {
    count_overflow(h, "strong");
  }
}
inline void incref(ObjectHeader* h) noexcept {
  check_strong(h, h->strong.fetch_add(1, std::memory_order_relaxed));
}

void destroy(ObjectHeader* h) noexcept;  // strong count reached zero
void free_block(ObjectHeader* h) noexcept;

// acq_rel: the thread that destroys must see every write made through the other references.
inline bool release_is_last(ObjectHeader* h) noexcept {
  return (h->strong.fetch_sub(1, std::memory_order_acq_rel) & ObjectHeader::kCountMask) == 1;
}
inline void decref(ObjectHeader* h) noexcept {
  if (release_is_last(h)) destroy(h);
}

// Returns the epoch the new weak reference belongs to.
inline std::uint32_t weak_incref(ObjectHeader* h) noexcept {
  const std::uint32_t old = h->weak.fetch_add(1, std::memory_order_relaxed);
  if ((old & ObjectHeader::kWeakCountMask) >= ObjectHeader::kWeakCountMask - 1) [[unlikely]] {
    count_overflow(h, "weak");
  }
  return old >> ObjectHeader::kEpochShift;
}
// A count of one is the caller's own reference, and no other can appear (a new one is made only
// from an existing one), so the block is freed without a read-modify-write: the common case of
// an object that never had a Weak, as libstdc++ does for shared_ptr.
inline void weak_decref(ObjectHeader* h) noexcept {
  constexpr auto kMask = ObjectHeader::kWeakCountMask;
  if ((h->weak.load(std::memory_order_acquire) & kMask) == 1 ||
      (h->weak.fetch_sub(1, std::memory_order_acq_rel) & kMask) == 1) {
    free_block(h);
  }
}

// The two count words a new object starts with. A tracked one is born young, with a weak
// reference held by its thread's young buffer besides the collective one (thread_buffers.h).
inline constexpr std::uint32_t kBornStrong = 1, kBornWeak = 1;
inline constexpr std::uint32_t kBornYoungStrong = 1 | ObjectHeader::kYoung, kBornYoungWeak = 2;

// Registers a freshly constructed tracked object with the collector (may trigger a collection).
void track(ObjectHeader* h);

}  // namespace detail
}  // namespace cyclegc
