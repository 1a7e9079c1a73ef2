// The conservative scan behind still_reachable.h. Its steps, in run order:
//
//   mark_this_thread      (find_still_reachable) the calling thread's registers are spilled
//                         into its frame and the stack from there up is its root; nothing the
//                         scan itself allocates is above that mark
//   snapshot_objects      every live tracked object: its header, which Refs hold, and its block
//                         start, which the generation lists hold and which is never a reference
//   collect_roots         the writable segments of every loaded object except the library's
//                         own, the C library's, the dynamic loader's and a sanitizer runtime's
//                         (their allocator metadata points at freed blocks); then the
//                         registered threads' stacks (from their marks when they are stopped,
//                         whole when not), the calling thread's first, with its thread-locals
//   mark_from_roots       each root in turn, word by word: a live header marks its object; a
//                         heap block start has its block scanned; then the traced edges of
//                         what it marked (follow_traces). An object keeps the first root that
//                         reached it as its holder. Garbage is never marked and never scanned:
//                         what only garbage holds is leaked.
//   scan_values           then the value of every marked object, word by word, for references
//                         its trace does not report (a std::function's captures, a Ref behind an
//                         interior pointer), and what those reach in turn. Last, so that a
//                         holder is decided by what roots reach exactly: a value's untraced
//                         bytes may be stale (the unused part of a std::string's inline buffer
//                         keeps whatever the block held before), and a stale word that happens
//                         to equal a header must not make a global the holder of a whole ring
//                         the main thread holds. Every object is marked all the same.
//
// Safety: it all runs inside one ReadingScope (reading_scope.h): the other threads that use
// cyclegc are stopped at safepoints, where their stack marks are set, and blocks freed meanwhile
// are retired, not returned. Every word is read with load_word from inside a readable mapping,
// so a stale or made-up address can never fault the scan, and a thread that could not be
// stopped is read racily but safely, its whole stack.
#include "cyclegc/still_reachable.h"

#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "cyclegc/gc.h"
#include "gc_state.h"
#include "heap_blocks.h"
#include "memory_map.h"
#include "reading_scope.h"

namespace cyclegc {
namespace detail {
namespace {

using Word = std::uintptr_t;
constexpr Word kWordSize = sizeof(Word);

// Every address the scan keeps for itself is stored complemented, as a Weak stores its header:
// its own buffers, and the ones it freed as they grew, must never look like the program's
// references to the scan.
constexpr Word hidden(Word w) { return ~w; }

struct Objects {
  std::vector<AnyRef> refs;  // pins; its buffer is never scanned
  std::vector<bool> garbage;
  // hidden(header) -> index into refs; hidden(block start) -> -1 (a generation list's link,
  // never a reference) for the over-aligned types, whose header is not right after their links.
  absl::flat_hash_map<Word, std::int32_t> index;
  Word lowest = ~Word{0}, highest = 0;  // of the keys: most words lie outside, unlooked-up
  const std::int32_t* find(Word w) const {
    if (w < lowest || w > highest) return nullptr;
    const auto it = index.find(hidden(w));
    return it == index.end() ? nullptr : &it->second;
  }
  // Whether the heap block at `start` is a tracked object's: read whole, it would lead the scan
  // along the generation lists to every object.
  bool is_object_block(Word start) const {
    const std::int32_t* over_aligned = find(start);
    return find(start + sizeof(GcLinks)) != nullptr || (over_aligned && *over_aligned < 0);
  }
};

// Pins every live tracked object, and the garbage, into one buffer allocated once: a vector
// grown as it went would leave freed copies full of headers behind.
Objects snapshot_objects() {
  Objects o;
  GcState& s = state();
  std::size_t live = 0;
  {
    auto lock = lock_settled(s);
    std::size_t total = s.garbage.size();
    for (const Generation& g : s.generations) {
      for (const GcLinks* l = g.head.next; l != &g.head; l = l->next) ++total;
    }
    o.refs.reserve(total);
    for (Generation& g : s.generations) {
      for (GcLinks* l = g.head.next; l != &g.head; l = l->next) {
        ObjectHeader* h = ObjectHeader::from_links(l);
        if (incref_if_alive(h)) o.refs.push_back(AnyRef::adopt(h));
      }
    }
    live = o.refs.size();
    for (const AnyRef& g : s.garbage) o.refs.push_back(g);
  }
  o.garbage.assign(o.refs.size(), false);
  o.index.reserve(o.refs.size());
  for (std::size_t i = 0; i < o.refs.size(); ++i) {
    ObjectHeader* h = o.refs[i].header();
    const Word header = reinterpret_cast<Word>(h);
    auto [it, added] = o.index.try_emplace(hidden(header), static_cast<std::int32_t>(i));
    if (i >= live) o.garbage[it->second] = true;  // garbage wins over its generation
    o.lowest = std::min(o.lowest, header);
    o.highest = std::max(o.highest, header);
    if (h->type->block_offset != sizeof(GcLinks)) {
      o.index.try_emplace(hidden(header - h->type->block_offset), -1);
      o.lowest = std::min(o.lowest, header - h->type->block_offset);
    }
  }
  return o;
}

struct Root {
  Word lo, hi;
  std::size_t holder;  // into the holders; globals get one per word that reaches something
  bool per_word;
};

std::string thread_name(unsigned long thread) {
  char name[64] = "";
  pthread_getname_np(static_cast<pthread_t>(thread), name, sizeof name);
  return name;
}

// The stack of `thread`, [lo, hi), from the C library's own record of it.
bool stack_bounds(unsigned long thread, Word& lo, Word& hi) {
  pthread_attr_t attr;
  if (pthread_getattr_np(static_cast<pthread_t>(thread), &attr) != 0) return false;
  void* addr = nullptr;
  std::size_t size = 0;
  const bool ok = pthread_attr_getstack(&attr, &addr, &size) == 0;
  pthread_attr_destroy(&attr);
  lo = reinterpret_cast<Word>(addr);
  hi = lo + size;
  return ok;
}

// Whether `path` is the object file that contains `code`.
bool module_contains(const char* path, const void* code) {
  Dl_info info{};
  return code && dladdr(code, &info) && info.dli_fname && std::strcmp(info.dli_fname, path) == 0;
}

// Objects whose writable memory holds nothing of the program's: this library, the observer's
// (the agent keeps its records there), and the runtimes whose allocator metadata would lead the
// scan into freed blocks.
bool skipped_module(const char* path) {
  static const char* const kRuntimes[] = {"libc.so",  "ld-linux", "libasan",  "libtsan",
                                          "libubsan", "liblsan",  "libhwasan"};
  const char* slash = std::strrchr(path, '/');
  const char* base = slash ? slash + 1 : path;
  for (const char* r : kRuntimes) {
    if (std::strncmp(base, r, std::strlen(r)) == 0) return true;
  }
  if (!*path) return false;  // the program (a static libcyclegc's globals: the GcState, skipped)
  const Observer* watching = observer();
  return module_contains(path, reinterpret_cast<const void*>(&find_still_reachable)) ||
         (watching && module_contains(path, reinterpret_cast<const void*>(watching->on_track)));
}

struct Roots {
  std::vector<Root> roots;
  std::vector<Holder> holders;
  std::size_t this_thread = 0;  // its holder
};

void add_thread_locals(Roots& out) {
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto& roots = *static_cast<Roots*>(data);
        if (!info->dlpi_tls_data || skipped_module(info->dlpi_name)) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_TLS) continue;
          const Word lo = reinterpret_cast<Word>(info->dlpi_tls_data);
          roots.roots.push_back({lo, lo + ph.p_memsz, roots.this_thread, false});
        }
        return 0;
      },
      &out);
}

void add_writable_segments(Roots& out) {
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) {
        auto& roots = *static_cast<Roots*>(data);
        if (skipped_module(info->dlpi_name)) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_W)) continue;
          const Word lo = info->dlpi_addr + ph.p_vaddr;
          roots.roots.push_back({lo, lo + ph.p_memsz, 0, true});
        }
        return 0;
      },
      &out);
}

// The globals first, then the calling thread, then the others: an object held from a global
// and also from a frame is named by the global, whose words are exact where a frame's may be
// stale.
Roots collect_roots(Word this_thread_mark) {
  Roots out;
  add_writable_segments(out);
  std::vector<Root> others;
  const long pid = getpid();
  bool first_thread_is_this = false;
  for (const RegisteredThread& t : registered_threads()) {
    Word lo = 0, hi = 0;
    if (!stack_bounds(t.thread, lo, hi)) continue;
    const Word mark = t.current ? this_thread_mark : t.mark;
    if (mark >= lo && mark < hi) lo = mark;  // else running, or unknown: all of it
    Holder h;
    h.kind = Holder::Kind::kStack;
    h.thread_id = t.tid;
    h.thread_name = thread_name(t.thread);
    const std::size_t holder = out.holders.size();
    out.holders.push_back(std::move(h));
    if (t.current) {
      out.this_thread = holder;
      out.roots.push_back({lo, hi, holder, false});
      first_thread_is_this = t.tid == pid;
    } else {
      others.push_back({lo, hi, holder, false});
    }
  }
  // The first thread's thread-locals lie outside its stack (other threads' lie in their stack
  // blocks, above the stack), and only the calling thread can find its own.
  if (first_thread_is_this) add_thread_locals(out);
  out.roots.insert(out.roots.end(), others.begin(), others.end());
  return out;
}

// A global's object file and, when the dynamic symbol table covers its word, its symbol.
void name_global(Holder& h) {
  const Word word = reinterpret_cast<Word>(h.address);
  Dl_info info{};
  void* entry = nullptr;
  if (dladdr1(h.address, &info, &entry, RTLD_DL_SYMENT)) {
    const auto* sym = static_cast<const ElfW(Sym)*>(entry);
    if (info.dli_fname) h.module = info.dli_fname;
    const Word start = reinterpret_cast<Word>(info.dli_saddr);
    if (sym && info.dli_sname && word >= start && word < start + std::max<Word>(sym->st_size, 1))
      h.symbol = demangle(info.dli_sname);
  }
}

class Marker {
 public:
  Marker(Objects& objects, const MemoryMap& map, const HeapBlocks& blocks, bool racing)
      : objects_(objects),
        map_(map),
        blocks_(blocks),
        racing_(racing),
        holder_of_(objects.refs.size(), kNone) {
    // The library's own lists and garbage, and the scan's pins.
    visited_.insert(hidden(reinterpret_cast<Word>(&state())));
    visited_.insert(hidden(reinterpret_cast<Word>(objects.refs.data())));
  }

  // Scans a root and everything it leads to.
  void mark_from(const Root& root, std::vector<Holder>& holders) {
    for (const auto& [lo, hi] : map_.readable_parts(root.lo, root.hi)) {
      for (Word p = (lo + kWordSize - 1) & ~(kWordSize - 1); p + kWordSize <= hi; p += kWordSize) {
        const Word w = load_word(p);
        if (!root.per_word) {
          visit(w, root.holder);
        } else if (leads_somewhere(w)) {
          Holder global;  // named once it is known to hold something (name_global)
          global.kind = Holder::Kind::kGlobal;
          global.address = reinterpret_cast<const void*>(p);
          holders.push_back(std::move(global));
          visit(w, holders.size() - 1);
        }
        drain();
      }
    }
  }

  // The traced edges of every object marked since the last call, breadth first.
  void follow_traces(const ReadingScope& scope) {
    for (; traced_ < order_.size(); ++traced_) {
      const std::size_t i = order_[traced_];
      for_each_live_edge(
          scope, objects_.refs[i], [&](const char*, std::size_t, const AnyRef& target) {
            const std::int32_t* at = objects_.find(reinterpret_cast<Word>(target.header()));
            if (at && *at >= 0) mark(static_cast<std::size_t>(*at), holder_of_[i]);
          });
      drain();
    }
  }

  // The values of all marked objects, in the order they were marked, and what they reach.
  void scan_values(const ReadingScope& scope) {
    for (std::size_t next = 0; next < order_.size(); ++next) {
      const std::size_t i = order_[next];
      const ObjectHeader* h = objects_.refs[i].header();
      const Word value = reinterpret_cast<Word>(h) + h->type->value_offset;
      work_.push_back({hidden(value), hidden(value + h->type->value_size), holder_of_[i]});
      drain();
      follow_traces(scope);
    }
  }

  const std::vector<std::size_t>& order() const { return order_; }
  std::size_t holder_of(std::size_t i) const { return holder_of_[i]; }

 private:
  static constexpr std::size_t kNone = ~std::size_t{0};

  bool leads_somewhere(Word w) const {
    if (const std::int32_t* at = objects_.find(w)) {
      return *at >= 0 && holder_of_[*at] == kNone && !objects_.garbage[*at];
    }
    return !visited_.contains(hidden(w)) && blocks_.block_at(w, map_, racing_).has_value() &&
           !objects_.is_object_block(w);
  }

  void visit(Word w, std::size_t holder) {
    if (const std::int32_t* at = objects_.find(w)) {
      if (*at >= 0) mark(static_cast<std::size_t>(*at), holder);
      return;
    }
    if (visited_.contains(hidden(w))) return;
    const auto block = blocks_.block_at(w, map_, racing_);
    if (!block || objects_.is_object_block(w)) return;
    visited_.insert(hidden(w));
    work_.push_back({hidden(block->start), hidden(block->start + block->size), holder});
  }

  void mark(std::size_t i, std::size_t holder) {
    if (holder_of_[i] != kNone || objects_.garbage[i]) return;
    holder_of_[i] = holder;
    order_.push_back(i);
  }

  // Scans what visit() and scan_values() queued, depth first (a long list costs its length, not
  // recursion).
  void drain() {
    while (!work_.empty()) {
      const Word lo = hidden(work_.back().lo), hi = hidden(work_.back().hi);
      const std::size_t holder = work_.back().holder;
      work_.pop_back();
      if (!map_.readable(lo, hi)) continue;
      for (Word p = (lo + kWordSize - 1) & ~(kWordSize - 1); p + kWordSize <= hi; p += kWordSize)
        visit(load_word(p), holder);
    }
  }

  struct Range {
    Word lo, hi;  // hidden
    std::size_t holder;
  };
  Objects& objects_;
  const MemoryMap& map_;
  const HeapBlocks& blocks_;
  const bool racing_;  // other threads that use cyclegc run: the scope could not stop them
  std::vector<std::size_t> holder_of_;
  std::vector<std::size_t> order_;     // marked objects, as marked
  std::size_t traced_ = 0;             // order_[0, traced_) have had their edges followed
  absl::flat_hash_set<Word> visited_;  // hidden: heap blocks scanned or queued
  std::vector<Range> work_;
};

// Never inlined into find_still_reachable: its frame must lie below the mark.
[[gnu::noinline]] StillReachable scan(Word this_thread_mark) {
  StillReachable out;
  const auto map = MemoryMap::read_self();
  if (!map) return out;
  static const HeapBlocks* const blocks = new HeapBlocks();  // learns the cache key once
  Objects objects = snapshot_objects();
  ReadingScope scope;
  Roots roots = collect_roots(this_thread_mark);
  Marker marker(objects, *map, *blocks, scope.concurrent());
  for (const Root& root : roots.roots) {
    marker.mark_from(root, roots.holders);
    marker.follow_traces(scope);
  }
  marker.scan_values(scope);

  // Holders that reached nothing new are dropped; the rest keep their order.
  std::vector<std::size_t> renumbered(roots.holders.size(), ~std::size_t{0});
  for (std::size_t i : marker.order()) {
    std::size_t& to = renumbered[marker.holder_of(i)];
    if (to == ~std::size_t{0}) {
      to = out.holders.size();
      out.holders.push_back(std::move(roots.holders[marker.holder_of(i)]));
      if (out.holders.back().kind == Holder::Kind::kGlobal) name_global(out.holders.back());
    }
    out.objects.push_back(objects.refs[i]);
    out.holder.push_back(to);
  }
  out.scanned = true;
  return out;
}

}  // namespace
}  // namespace detail

std::string holder_name(const Holder& h) {
  if (h.kind == Holder::Kind::kStack) {
    if (h.thread_id == getpid()) return "main thread";
    return absl::StrCat("thread ", h.thread_id, h.thread_name.empty() ? "" : " (", h.thread_name,
                        h.thread_name.empty() ? "" : ")");
  }
  if (!h.symbol.empty()) return absl::StrReplaceAll(h.symbol, {{"[abi:cxx11]", ""}});
  const std::size_t slash = h.module.rfind('/');
  return "a global in " + (slash == std::string::npos ? h.module : h.module.substr(slash + 1));
}

// Not inlined, so that its frame is where the calling thread's root starts: the callers' frames
// and the registers they left in use (spilled here) are the program's; what the scan allocates
// lives below.
__attribute__((noinline)) StillReachable find_still_reachable() {
  __builtin_unwind_init();
  volatile char here = 0;
  StillReachable found = detail::scan(reinterpret_cast<detail::Word>(&here));
  (void)here;  // read after the scan, so that it is no tail call: the frame must stay put
  return found;
}

__attribute__((noinline)) void clear_stack_below() noexcept {
  // Deeper than the frames of a checker and the agent above the scan's mark, shallow enough for
  // the smallest stack a thread may have (PTHREAD_STACK_MIN is 16 KiB).
  constexpr std::size_t kDepth = 8 * 1024;
  char below[kDepth];
  std::memset(below, 0, sizeof below);
  asm volatile("" : : "r"(below) : "memory");  // the stores must happen
}

}  // namespace cyclegc
