// The malloc family, interposed by the preloaded object so that a program that never heard of
// cyclegc has its heap blocks tracked (live_blocks.h) with their allocation stacks, for the
// std::shared_ptr analysis (heap_scan.h), at exit and on the dump signal or interval.
//
// Every function forwards to the next definition in the lookup order (dlsym RTLD_NEXT), which
// is glibc's. Tracking runs only where that is safe and useful, decided at start: not in a
// setuid program, not under a sanitizer or another malloc (which own the heap and may free
// blocks behind free()'s back), not when shared_ptr=0, and never again once libcyclegc.so
// announces itself (the collector's own agent knows that program better). operator new and
// delete are interposed too, with libstdc++'s semantics (the new-handler loop, bad_alloc), only
// so that the stack is captured from a frame that has a frame pointer: libstdc++'s own
// operator new has none, and a walk from malloc would lose the program's frame that called it.
// A program's own replacement still wins: the executable comes before any preloaded object.
//
// Re-entrancy: dlsym may allocate while the functions are looked up; those calls are served
// from a static arena that is never freed. The hooks' own work never allocates (tables and stacks
// are mmap'd), and the analyzer's allocations, made with t_inside set, are not tracked.
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

#include "absl/debugging/stacktrace.h"
#include "heap_access.h"
#include "heap_hooks.h"

namespace cyclegc::agent {
namespace {

using MallocFn = void* (*)(std::size_t);
using FreeFn = void (*)(void*);
using CallocFn = void* (*)(std::size_t, std::size_t);
using ReallocFn = void* (*)(void*, std::size_t);
using MemalignFn = void* (*)(std::size_t, std::size_t);
using PosixMemalignFn = int (*)(void**, std::size_t, std::size_t);

struct Next {
  MallocFn malloc = nullptr;
  FreeFn free = nullptr;
  CallocFn calloc = nullptr;
  ReallocFn realloc = nullptr;
  MemalignFn memalign = nullptr;
  MemalignFn aligned_alloc = nullptr;
  PosixMemalignFn posix_memalign = nullptr;
  MallocFn valloc = nullptr;
  MallocFn pvalloc = nullptr;
};
Next g_next;
enum : int { kUnresolved, kResolving, kResolved };
std::atomic<int> g_resolution{kUnresolved};

template <typename Fn>
void look_up(Fn& fn, const char* name) {
  fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

// True once the next functions are known; false while they are being looked up (by this
// thread or another), when the caller serves from the arena.
bool resolved() {
  int state = g_resolution.load(std::memory_order_acquire);
  if (state == kResolved) return true;
  if (state == kUnresolved &&
      g_resolution.compare_exchange_strong(state, kResolving, std::memory_order_acq_rel)) {
    Next next;
    look_up(next.malloc, "malloc");
    look_up(next.free, "free");
    look_up(next.calloc, "calloc");
    look_up(next.realloc, "realloc");
    look_up(next.memalign, "memalign");
    look_up(next.aligned_alloc, "aligned_alloc");
    look_up(next.posix_memalign, "posix_memalign");
    look_up(next.valloc, "valloc");
    look_up(next.pvalloc, "pvalloc");
    g_next = next;
    g_resolution.store(kResolved, std::memory_order_release);
    return true;
  }
  return false;
}

// The tracking state. g_tracking is read on every call; the rest is set before it turns on.
std::atomic<bool> g_tracking{false};
LiveBlocks g_blocks;
AllocationStacks g_stacks;
int g_capture_depth = 0;  // frames captured per block: the report's depth and the allocator's
const char* g_refusal = nullptr;  // why tracking stays off, for the exit line

// > 0 while this thread runs the agent's own code (the analyzer): its allocations go untracked.
__attribute__((tls_model("initial-exec"))) thread_local int t_inside = 0;
// While this thread scans, holding every shard's lock: its frees take no lock.
__attribute__((tls_model("initial-exec"))) thread_local bool t_scanning = false;
// The stacks this thread interned last, by their 64-bit hashes, direct-mapped: a loop that
// allocates at a few sites (an object, its vector's growth, a map node) takes no lock for them.
// (Small, because static TLS is scarce.)
struct RecentStacks {
  static constexpr int kSlots = 64;
  std::uint64_t hash[kSlots] = {};
  std::uint32_t id[kSlots] = {};
};
__attribute__((tls_model("initial-exec"))) thread_local RecentStacks t_recent;

// The top of this thread's stack, found once per thread (glibc reads /proc/self/maps for the
// main thread: the caller is inside the agent, so what that allocates goes untracked); 0 when
// it cannot be known.
__attribute__((tls_model("initial-exec"))) thread_local std::uintptr_t t_stack_top = 1;

std::uintptr_t stack_top() {
  if (t_stack_top == 1) {
    t_stack_top = 0;
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* low = nullptr;
      std::size_t size = 0;
      if (pthread_attr_getstack(&attr, &low, &size) == 0) {
        t_stack_top = reinterpret_cast<std::uintptr_t>(low) + size;
      }
      pthread_attr_destroy(&attr);
    }
  }
  return t_stack_top;
}

// The return addresses of this call's frames, by their frame pointers: each frame must lie
// above the last and below the top of this thread's stack, so no read leaves the stack — a
// frame without a frame pointer (its register holding anything) ends the walk, and so does a
// stack of the program's own (a coroutine's, a signal stack), where the frames are not ours to
// bound. Inline, it costs a few loads a frame, where a general unwinder costs far more.
inline int walk_frames(std::uintptr_t* pcs, int depth) {
  const std::uintptr_t top = stack_top();
  if (top == 0) return absl::GetStackTrace(reinterpret_cast<void**>(pcs), depth, 1);
  auto fp = reinterpret_cast<std::uintptr_t>(__builtin_frame_address(0));
  int n = 0;
  while (n < depth && fp % alignof(std::uintptr_t) == 0 && fp + 2 * sizeof(fp) <= top) {
    const auto* frame = reinterpret_cast<const std::uintptr_t*>(fp);
    const std::uintptr_t next = frame[0], return_address = frame[1];
    if (return_address == 0) break;
    pcs[n++] = return_address;
    if (next <= fp) break;
    fp = next;
  }
  return n;
}

// Not inlined: its frame is where the walk starts.
__attribute__((noinline)) std::uint32_t capture_stack() {
  if (g_capture_depth == 0) return 0;
  std::uintptr_t pcs[AllocationStacks::kMaxFrames];
  const int n = walk_frames(pcs, g_capture_depth);
  if (n <= 0) return 0;
  const std::uint64_t h = AllocationStacks::hash(pcs, n);
  const int slot = static_cast<int>(h >> 58);
  if (t_recent.hash[slot] == h && t_recent.id[slot] != 0) return t_recent.id[slot];
  const std::uint32_t id = g_stacks.intern(pcs, n, h);
  t_recent.hash[slot] = h;
  t_recent.id[slot] = id;
  return id;
}

inline void track(void* p, std::size_t n) {
  if (p == nullptr || !g_tracking.load(std::memory_order_relaxed) || t_inside > 0) return;
  ++t_inside;  // the unwinder may allocate on its first call
  g_blocks.insert(reinterpret_cast<std::uintptr_t>(p), n, capture_stack());
  --t_inside;
}

inline void untrack(void* p) {
  if (p == nullptr || !g_tracking.load(std::memory_order_relaxed)) return;
  if (t_scanning) {
    g_blocks.erase_locked(reinterpret_cast<std::uintptr_t>(p));
  } else {
    g_blocks.erase(reinterpret_cast<std::uintptr_t>(p));
  }
}

void begin_scan() {
  g_blocks.lock_all();
  t_scanning = true;
}
void end_scan() {
  t_scanning = false;
  g_blocks.unlock_all();
}

// fork(): every lock is held across it, so that the child's tables are whole and free.
void before_fork() {
  if (!g_tracking.load()) return;
  g_stacks.lock();
  g_blocks.lock_all();
}
void after_fork() {
  if (!g_tracking.load()) return;
  g_blocks.unlock_all();
  g_stacks.unlock();
}

// The runtime that owns the heap when it is not glibc's malloc, or null.
const char* foreign_heap() {
  for (const char* sanitizer : {"__asan_init", "__tsan_init", "__msan_init", "__hwasan_init"}) {
    if (dlsym(RTLD_DEFAULT, sanitizer) != nullptr) return "a sanitizer runtime owns the heap";
  }
  const char* other =
      "malloc is not glibc's (jemalloc, tcmalloc or another allocator owns the heap)";
  Dl_info info{};
  if (g_next.malloc == nullptr || dladdr(reinterpret_cast<void*>(g_next.malloc), &info) == 0 ||
      info.dli_fname == nullptr || std::strstr(info.dli_fname, "/libc.so") == nullptr) {
    return other;
  }
  // The program's malloc must be ours: an allocator preloaded before this object, or linked
  // into the executable, is called instead of the hooks, which would see no block.
  Dl_info self{}, found{};
  void* program_malloc = dlsym(RTLD_DEFAULT, "malloc");
  if (dladdr(reinterpret_cast<void*>(&foreign_heap), &self) == 0 || program_malloc == nullptr ||
      dladdr(program_malloc, &found) == 0 || found.dli_fbase != self.dli_fbase) {
    return other;
  }
  return nullptr;
}

}  // namespace

void start_heap_tracking(const Options& options) {
#ifdef CYCLEGC_NO_HEAP_HOOKS
  (void)options;
  return;
#endif
  if (!options.shared_ptr) return;
  resolved();
  if (getauxval(AT_SECURE) != 0) return;
  if ((g_refusal = foreign_heap()) != nullptr) return;
  // The frames between the program's call and here: the hook, operator new, libstdc++'s
  // allocator and shared_ptr's own, which an -O0 build does not inline.
  constexpr int kAllocatorFrames = 12;
  g_capture_depth = options.stack_depth == 0 ? 0
                                             : std::min(options.stack_depth + kAllocatorFrames,
                                                        AllocationStacks::kMaxFrames);
  pthread_atfork(before_fork, after_fork, after_fork);
  g_tracking.store(true, std::memory_order_release);
}

void stop_heap_tracking() { g_tracking.store(false, std::memory_order_release); }

bool heap_tracking() { return g_tracking.load(std::memory_order_acquire); }
const char* heap_tracking_refusal() { return g_refusal; }

std::size_t heap_live_blocks() {
  g_blocks.lock_all();
  const std::size_t n = g_blocks.size_locked();
  g_blocks.unlock_all();
  return n;
}

std::size_t write_heap_report(const char* analyzer_path, const char* reason, int stack_depth,
                              const char* options_text) {
  ++t_inside;
  std::size_t leaks = 0;
  void* analyzer = dlopen(analyzer_path, RTLD_NOW | RTLD_LOCAL);
  using Entry = std::size_t (*)(const HeapAccess*, const char*);
  auto entry = analyzer ? reinterpret_cast<Entry>(dlsym(analyzer, "cyclegc_heap_report")) : nullptr;
  if (entry == nullptr) {
    const char* why = dlerror();
    std::fprintf(stderr, "cyclegc: cannot analyze the heap: %s\n", why ? why : analyzer_path);
  } else {
    const HeapAccess access{&g_blocks, &g_stacks, stack_depth, options_text, begin_scan, end_scan};
    leaks = entry(&access, reason);
  }
  --t_inside;
  return leaks;
}

}  // namespace cyclegc::agent

#ifndef CYCLEGC_NO_HEAP_HOOKS

namespace cyclegc::agent {
namespace {

// Where dlsym's own allocations go while the functions are being looked up: a bump arena, each
// block after a 16-byte header holding its size (for realloc).
alignas(16) char g_boot[1 << 16];
std::atomic<std::size_t> g_boot_used{0};

bool in_boot(const void* p) {
  return p >= static_cast<const void*>(g_boot) &&
         p < static_cast<const void*>(g_boot + sizeof g_boot);
}

void* boot_alloc(std::size_t n, std::size_t align = 16) {
  if (align < 16) align = 16;
  std::size_t at = g_boot_used.load(std::memory_order_relaxed), start;
  do {
    start = (at + 16 + align - 1) & ~(align - 1);
    if (start + n > sizeof g_boot) return nullptr;
  } while (!g_boot_used.compare_exchange_weak(at, start + n, std::memory_order_relaxed));
  std::memcpy(g_boot + start - sizeof(std::size_t), &n, sizeof n);
  return g_boot + start;  // static storage: already zero, never reused
}

std::size_t boot_size(const void* p) {
  std::size_t n;
  std::memcpy(&n, static_cast<const char*>(p) - sizeof n, sizeof n);
  return n;
}

}  // namespace
}  // namespace cyclegc::agent

using cyclegc::agent::g_next;
using cyclegc::agent::resolved;
using cyclegc::agent::track;
using cyclegc::agent::untrack;

#define CYCLEGC_EXPORT extern "C" __attribute__((visibility("default")))

CYCLEGC_EXPORT void* malloc(std::size_t n) {
  if (!resolved()) return cyclegc::agent::boot_alloc(n);
  void* p = g_next.malloc(n);
  track(p, n);
  return p;
}

CYCLEGC_EXPORT void free(void* p) {
  if (p == nullptr || cyclegc::agent::in_boot(p)) return;
  untrack(p);
  g_next.free(p);
}

CYCLEGC_EXPORT void* calloc(std::size_t count, std::size_t size) {
  std::size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (!resolved()) return cyclegc::agent::boot_alloc(n);
  void* p = g_next.calloc(count, size);
  track(p, n);
  return p;
}

CYCLEGC_EXPORT void* realloc(void* old, std::size_t n) {
  if (old != nullptr && cyclegc::agent::in_boot(old)) {
    void* p = malloc(n);
    if (p) std::memcpy(p, old, std::min(n, cyclegc::agent::boot_size(old)));
    return p;
  }
  if (!resolved()) return cyclegc::agent::boot_alloc(n);
  // Out of the table first: once realloc returns, another thread's malloc may get `old`.
  untrack(old);
  void* p = g_next.realloc(old, n);
  if (p) {
    track(p, n);
  } else if (old != nullptr && n != 0) {
    track(old, malloc_usable_size(old));  // failed: the old block stands
  }
  return p;
}

CYCLEGC_EXPORT void* reallocarray(void* old, std::size_t count, std::size_t size) {
  std::size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(old, n);
}

CYCLEGC_EXPORT void* memalign(std::size_t align, std::size_t n) {
  if (!resolved()) return cyclegc::agent::boot_alloc(n, align);
  void* p = g_next.memalign(align, n);
  track(p, n);
  return p;
}

CYCLEGC_EXPORT void* aligned_alloc(std::size_t align, std::size_t n) {
  if (!resolved()) return cyclegc::agent::boot_alloc(n, align);
  void* p = g_next.aligned_alloc(align, n);
  track(p, n);
  return p;
}

CYCLEGC_EXPORT int posix_memalign(void** out, std::size_t align, std::size_t n) {
  if (!resolved()) {
    *out = cyclegc::agent::boot_alloc(n, align);
    return *out ? 0 : ENOMEM;
  }
  const int rc = g_next.posix_memalign(out, align, n);
  if (rc == 0) track(*out, n);
  return rc;
}

CYCLEGC_EXPORT void* valloc(std::size_t n) {
  if (!resolved()) return cyclegc::agent::boot_alloc(n, 4096);
  void* p = g_next.valloc(n);
  track(p, n);
  return p;
}

CYCLEGC_EXPORT void* pvalloc(std::size_t n) {
  if (!resolved()) return cyclegc::agent::boot_alloc(n, 4096);
  void* p = g_next.pvalloc(n);
  track(p, n);
  return p;
}

// operator new and delete. Each new tracks the block itself, from its own frame; delete is free.
namespace {

void* new_block(std::size_t n, std::size_t align, bool nothrow) {
  if (n == 0) n = 1;
  for (;;) {
    void* p = nullptr;
    if (!resolved()) {
      p = cyclegc::agent::boot_alloc(n, align);
    } else {
      p = align <= __STDCPP_DEFAULT_NEW_ALIGNMENT__
              ? g_next.malloc(n)
              : g_next.aligned_alloc(align, (n + align - 1) & ~(align - 1));
      track(p, n);
    }
    if (p != nullptr) return p;
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) {
      if (nothrow) return nullptr;
      throw std::bad_alloc();
    }
    if (nothrow) {
      try {
        handler();
      } catch (...) {
        return nullptr;
      }
    } else {
      handler();
    }
  }
}

}  // namespace

#define CYCLEGC_NEW __attribute__((visibility("default"), noinline))

CYCLEGC_NEW void* operator new(std::size_t n) { return new_block(n, 0, false); }
CYCLEGC_NEW void* operator new[](std::size_t n) { return new_block(n, 0, false); }
CYCLEGC_NEW void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return new_block(n, 0, true);
}
CYCLEGC_NEW void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return new_block(n, 0, true);
}
CYCLEGC_NEW void* operator new(std::size_t n, std::align_val_t a) {
  return new_block(n, static_cast<std::size_t>(a), false);
}
CYCLEGC_NEW void* operator new[](std::size_t n, std::align_val_t a) {
  return new_block(n, static_cast<std::size_t>(a), false);
}
CYCLEGC_NEW void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return new_block(n, static_cast<std::size_t>(a), true);
}
CYCLEGC_NEW void* operator new[](std::size_t n, std::align_val_t a,
                                 const std::nothrow_t&) noexcept {
  return new_block(n, static_cast<std::size_t>(a), true);
}

CYCLEGC_NEW void operator delete(void* p) noexcept { free(p); }
CYCLEGC_NEW void operator delete[](void* p) noexcept { free(p); }
CYCLEGC_NEW void operator delete(void* p, std::size_t) noexcept { free(p); }
CYCLEGC_NEW void operator delete[](void* p, std::size_t) noexcept { free(p); }
CYCLEGC_NEW void operator delete(void* p, const std::nothrow_t&) noexcept { free(p); }
CYCLEGC_NEW void operator delete[](void* p, const std::nothrow_t&) noexcept { free(p); }
CYCLEGC_NEW void operator delete(void* p, std::align_val_t) noexcept { free(p); }
CYCLEGC_NEW void operator delete[](void* p, std::align_val_t) noexcept { free(p); }
CYCLEGC_NEW void operator delete(void* p, std::size_t, std::align_val_t) noexcept { free(p); }
CYCLEGC_NEW void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { free(p); }
CYCLEGC_NEW void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  free(p);
}
CYCLEGC_NEW void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  free(p);
}

#endif  // CYCLEGC_NO_HEAP_HOOKS
