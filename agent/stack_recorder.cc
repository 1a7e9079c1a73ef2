#include "stack_recorder.h"

#include <dlfcn.h>
#include <execinfo.h>

#include <boost/stacktrace/frame.hpp>

#include "absl/debugging/stacktrace.h"
#include "absl/strings/match.h"

namespace cyclegc::agent {
namespace {

constexpr int kCalibrationSamples = 16;
// Frames of the recorder, the observer hook and libcyclegc's track() precede the caller's.
constexpr int kSkippedFrames = 3;

// The file of the module (executable or shared library) that holds `pc`.
std::string module_of(std::uintptr_t pc) {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(pc), &info) == 0 || !info.dli_fname) return "";
  return info.dli_fname;
}

bool inside_cyclegc(const Frame& f) {
  return absl::StartsWith(f.function, "cyclegc::") ||
         absl::StrContains(f.file, "/include/cyclegc/") ||
         absl::StrContains(module_of(f.pc), "libcyclegc");
}

}  // namespace

StackRecorder::StackRecorder(int depth)
    : depth_(depth), calibrations_left_(depth > 0 ? kCalibrationSamples : 0) {
  if (depth_ > 0) {
    void* warm[2];
    backtrace(warm, 2);  // loads libgcc's unwinder now, not inside the first allocation
  }
}

int StackRecorder::capture(Pcs& pcs) {
  void* raw[80];
  const int want = std::min<int>(depth_ + kSkippedFrames, 80);
  int n;
  bool unwind;
  {
    std::lock_guard lock(mu_);
    unwind = use_unwind_;
  }
  if (unwind) {
    n = backtrace(raw, want);
  } else {
    n = absl::GetStackTrace(raw, want, 0);
  }
  for (int i = std::min(n, kSkippedFrames); i < n; ++i) {
    pcs.push_back(reinterpret_cast<std::uintptr_t>(raw[i]));
  }
  return n;
}

void StackRecorder::record(const void* object) {
  if (depth_ == 0) return;
  Pcs pcs;
  const int walked = capture(pcs);
  std::lock_guard lock(mu_);
  if (calibrations_left_ > 0 && !use_unwind_) {
    --calibrations_left_;
    void* raw[80];
    const int unwound = backtrace(raw, std::min<int>(depth_ + kSkippedFrames, 80));
    // A walk that stops well short of the unwinder means missing frame pointers.
    if (walked + 2 < unwound) use_unwind_ = true;
  }
  auto [it, added] = stack_ids_.try_emplace(std::move(pcs), static_cast<int>(stacks_.size()));
  if (added) stacks_.push_back(it->first);
  object_stack_[object] = it->second;
}

void StackRecorder::forget(const void* object) {
  if (depth_ == 0) return;
  std::lock_guard lock(mu_);
  object_stack_.erase(object);
}

int StackRecorder::stack_of(const void* object) const {
  std::lock_guard lock(mu_);
  auto it = object_stack_.find(object);
  return it == object_stack_.end() ? -1 : it->second;
}

const Frame& StackRecorder::symbolize(std::uintptr_t pc) const {
  auto [it, added] = symbols_.try_emplace(pc);
  if (added) {
    // A return address points after the call; pc - 1 lies in the calling line.
    boost::stacktrace::frame frame(reinterpret_cast<void*>(pc - 1));
    it->second.pc = pc;
    it->second.function = frame.name();
    it->second.file = frame.source_file();
    it->second.line = static_cast<int>(frame.source_line());
  }
  return it->second;
}

std::vector<Frame> StackRecorder::frames(int stack) const {
  std::lock_guard lock(mu_);
  std::vector<Frame> out;
  if (stack < 0 || stack >= static_cast<int>(stacks_.size())) return out;
  for (std::uintptr_t pc : stacks_[stack]) {
    const Frame& f = symbolize(pc);
    if (out.empty() && inside_cyclegc(f)) continue;  // make<T> and friends
    out.push_back(f);
    if (static_cast<int>(out.size()) == depth_) break;
  }
  return out;
}

const char* StackRecorder::method() const {
  if (depth_ == 0) return "off";
  std::lock_guard lock(mu_);
  return use_unwind_ ? "unwind" : "frame-pointer";
}

std::size_t StackRecorder::distinct_stacks() const {
  std::lock_guard lock(mu_);
  return stacks_.size();
}

}  // namespace cyclegc::agent
