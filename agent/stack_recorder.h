// Allocation stacks: raw program counters captured when a tracked object is made, interned so
// that a million objects made at one call site share one stack, and symbolized (function,
// file:line) once per distinct frame, only when a report is written.
//
// Capture is a frame-pointer walk when the program keeps frame pointers (tens of nanoseconds)
// and a full unwind otherwise (about two microseconds). The recorder decides from the first
// allocations: it takes both, and if the walk comes up shorter than the unwind, the frame
// pointers are missing or broken, and it keeps the unwound stack and unwinds from then on.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace cyclegc::agent {

struct Frame {
  std::uintptr_t pc = 0;
  std::string function;  // demangled, or "" when unknown
  std::string file;      // "" when unknown
  int line = 0;
};

class StackRecorder {
 public:
  explicit StackRecorder(int depth);

  void record(const void* object);  // on the thread that makes the object
  void forget(const void* object);  // when it is freed

  // The interned stack of `object`, or -1.
  int stack_of(const void* object) const;
  // The frames of an interned stack, outermost last, from the program's own frame that made the
  // object (the capture's frames before it are left out).
  std::vector<Frame> frames(int stack) const;
  const char* method() const;  // "frame-pointer", "unwind" or "off"

 private:
  using Pcs = std::vector<std::uintptr_t>;
  void capture(Pcs& pcs, bool unwind) const;
  const Frame& symbolize(std::uintptr_t pc) const;

  const int depth_;
  mutable std::mutex mu_;
  int calibrations_left_;
  bool use_unwind_ = false;
  absl::flat_hash_map<const void*, int> object_stack_;
  absl::flat_hash_map<Pcs, int> stack_ids_;
  std::vector<Pcs> stacks_;
  mutable absl::flat_hash_map<std::uintptr_t, Frame> symbols_;
};

}  // namespace cyclegc::agent
