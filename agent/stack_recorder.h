// Allocation stacks: raw program counters captured when a tracked object is made, interned so
// that a million objects made at one call site share one stack, and symbolized (function,
// file:line, and every call inlined there) once per distinct pc, only when a report is written.
//
// Capture is a frame-pointer walk when the program keeps frame pointers (tens of nanoseconds)
// and a full unwind otherwise (about two microseconds). The recorder decides from the first
// allocations: it takes both, and if the walk comes up shorter than the unwind, the frame
// pointers are missing or broken, and it keeps the unwound stack and unwinds from then on.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/types/span.h"
#include "symbolizer.h"

namespace cyclegc::agent {

class StackRecorder {
 public:
  explicit StackRecorder(int depth);

  // On the thread that makes the object. Nothing is erased when an object is freed: the next
  // object made at the same address overwrites the entry, and only live objects are looked up,
  // so forgetting would cost a lock per free and buy only a smaller map (which never outgrows
  // the peak number of live objects by much, because the allocator reuses addresses).
  void record(const void* object);

  // The interned stack of `object`, or -1.
  int stack_of(const void* object) const;
  // The frames of an interned stack, outermost last, from the program's own frame that made the
  // object (the capture's frames before it are left out).
  std::vector<Frame> frames(int stack) const;
  const char* method() const;  // "frame-pointer", "unwind" or "off"

  // fork(): the lock is held across it (pthread_atfork), so that the child's copy of the maps is
  // whole and its lock free, whatever another thread was recording.
  void before_fork() { mu_.lock(); }
  void after_fork() { mu_.unlock(); }

 private:
  using Pcs = std::vector<std::uintptr_t>;
  using PcSpan = absl::Span<const std::uintptr_t>;
  // Interned stacks are looked up by a span over the capture buffer, so that an allocation at a
  // known site copies nothing to the heap.
  struct PcsHash {
    using is_transparent = void;
    std::size_t operator()(PcSpan pcs) const { return absl::Hash<PcSpan>{}(pcs); }
  };
  struct PcsEq {
    using is_transparent = void;
    bool operator()(PcSpan a, PcSpan b) const { return a == b; }
  };

  int capture(std::uintptr_t* pcs, bool unwind) const;  // returns how many frames
  const std::vector<Frame>& frames_at(std::uintptr_t pc) const;

  const int depth_;
  // Read without the lock on every allocation; set during the first kCalibrationSamples.
  std::atomic<int> calibrations_left_;
  std::atomic<bool> use_unwind_{false};
  mutable std::mutex mu_;  // guards the maps below
  absl::flat_hash_map<const void*, int> object_stack_;
  absl::flat_hash_map<Pcs, int, PcsHash, PcsEq> stack_ids_;
  std::vector<Pcs> stacks_;
  // Each pc's frames, inlined calls first, symbolized once.
  mutable absl::flat_hash_map<std::uintptr_t, std::vector<Frame>> symbols_;
};

}  // namespace cyclegc::agent
