#include "stack_recorder.h"

#include <dlfcn.h>
#include <execinfo.h>

#include "absl/container/flat_hash_set.h"
#include "absl/debugging/stacktrace.h"
#include "absl/strings/match.h"
#include "cyclegc_report/report.h"

namespace cyclegc::agent {
namespace {

constexpr int kCalibrationSamples = 16;
// Frames of the recorder, the observer hook, track() and make<T>() come before the caller's.
// They are recognised when symbolized (capture_machinery), not counted here: inlining
// changes how many there are.
constexpr int kInternalFrames = 6;
constexpr int kMaxFrames = 80;

// The file of the module (executable or shared library) that holds `pc`.
std::string module_of(std::uintptr_t pc) {
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(pc), &info) == 0 || !info.dli_fname) return "";
  return info.dli_fname;
}

// Whether a frame-pointer walk lost frames the unwinder found. Both record the same return
// addresses; the walk legitimately differs only at the ends: the capturing functions themselves
// at the start, libc's start-up frames (which it does not reach) at the end. A frame missing in
// between means missing or broken frame pointers.
bool walk_missed_frames(absl::Span<const std::uintptr_t> walked,
                        absl::Span<const std::uintptr_t> unwound) {
  const absl::flat_hash_set<std::uintptr_t> seen(walked.begin(), walked.end());
  constexpr std::size_t kCapturing = 2, kStartup = 3;
  const std::size_t end = std::min(unwound.size(), walked.size() + kCapturing);
  for (std::size_t i = kCapturing; i + kStartup < end; ++i) {
    if (!seen.contains(unwound[i])) return true;
  }
  return walked.size() + kStartup + kCapturing < unwound.size() && walked.size() < 4;
}

// Frames of the capture itself, before the program's own: cyclegc (the agent, the observer
// hook, track(), an inlined make<T>()), and the unwinders it calls — abseil's, libc's, or a
// sanitizer's interceptor of backtrace().
bool capture_machinery(const Frame& f) {
  // By the function's own name, not its return type: a factory returning a cyclegc::Ref is the
  // program's.
  if (absl::StartsWith(report::function_name(f.function), "cyclegc::") ||
      absl::StrContains(f.file, "/include/cyclegc/")) {
    return true;
  }
  const std::string module = module_of(f.pc);
  const std::string name = module.substr(module.rfind('/') + 1);
  for (const char* m : {"libcyclegc", "libabsl_stacktrace", "libc.so", "libasan", "libtsan",
                        "libubsan", "libgcc_s"}) {
    if (absl::StartsWith(name, m)) return true;
  }
  return false;
}

// The C runtime's start-up, below main: libc's __libc_start_main and what it inlines, and the
// executable's _start. Nothing in them is the program's to fix.
bool process_startup(const Frame& f) {
  const std::string& name = f.function;
  return name == "_start" || absl::StartsWith(name, "__libc_start") ||
         absl::StrContains(f.file, "/sysdeps/");  // glibc's sources, relative or not
}

}  // namespace

StackRecorder::StackRecorder(int depth)
    : depth_(depth), calibrations_left_(depth > 0 ? kCalibrationSamples : 0) {
  if (depth_ > 0) {
    void* warm[2];
    backtrace(warm, 2);  // loads libgcc's unwinder now, not inside the first allocation
  }
}

int StackRecorder::capture(std::uintptr_t* pcs, bool unwind) const {
  void* raw[kMaxFrames];
  const int want = std::min(depth_ + kInternalFrames, kMaxFrames);
  const int n = unwind ? backtrace(raw, want) : absl::GetStackTrace(raw, want, 0);
  for (int i = 0; i < n; ++i) pcs[i] = reinterpret_cast<std::uintptr_t>(raw[i]);
  return n;
}

void StackRecorder::record(const void* object) {
  if (depth_ == 0) return;
  std::uintptr_t pcs[kMaxFrames];
  int n = capture(pcs, use_unwind_.load(std::memory_order_relaxed));
  if (calibrations_left_.load(std::memory_order_relaxed) > 0 &&
      calibrations_left_.fetch_sub(1, std::memory_order_relaxed) > 0 &&
      !use_unwind_.load(std::memory_order_relaxed)) {
    // A walk that stops well short of the unwinder means missing or broken frame pointers
    // (a build without them, or ASan's fake stacks): unwind from now on, this stack included.
    std::uintptr_t unwound[kMaxFrames];
    const int m = capture(unwound, true);
    if (walk_missed_frames(PcSpan(pcs, n), PcSpan(unwound, m))) {
      std::copy(unwound, unwound + m, pcs);
      n = m;
      use_unwind_.store(true, std::memory_order_relaxed);
    }
  }
  const PcSpan key(pcs, static_cast<std::size_t>(n));
  std::lock_guard lock(mu_);
  auto it = stack_ids_.find(key);
  if (it == stack_ids_.end()) {
    it = stack_ids_.emplace(Pcs(key.begin(), key.end()), static_cast<int>(stacks_.size())).first;
    stacks_.push_back(it->first);
  }
  object_stack_[object] = it->second;
}

int StackRecorder::stack_of(const void* object) const {
  std::lock_guard lock(mu_);
  auto it = object_stack_.find(object);
  return it == object_stack_.end() ? -1 : it->second;
}

const std::vector<Frame>& StackRecorder::frames_at(std::uintptr_t pc) const {
  auto [it, added] = symbols_.try_emplace(pc);
  if (added) it->second = symbolize(pc);
  return it->second;
}

std::vector<Frame> StackRecorder::frames(int stack) const {
  std::lock_guard lock(mu_);
  std::vector<Frame> out;
  if (stack < 0 || stack >= static_cast<int>(stacks_.size())) return out;
  for (std::uintptr_t pc : stacks_[stack]) {
    for (const Frame& f : frames_at(pc)) {
      if (out.empty() && capture_machinery(f)) continue;
      if (process_startup(f)) return out;
      out.push_back(f);
      if (static_cast<int>(out.size()) == depth_) return out;
    }
  }
  return out;
}

const char* StackRecorder::method() const {
  if (depth_ == 0) return "off";
  return use_unwind_.load(std::memory_order_relaxed) ? "unwind" : "frame-pointer";
}

}  // namespace cyclegc::agent
