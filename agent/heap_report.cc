// libcyclegc_agent_heap.so: the std::shared_ptr report, loaded by the preloaded object only
// when a report is due in a process that does not use libcyclegc (heap_access.h). The heap is
// analysed (heap_scan.h) with every allocating thread held at the table's locks, so no block
// is freed under the scan; the report is then built and written without them, in the same
// schema and by the same writer as the collector's, so that cyclegc-report reads it unchanged.
#include <dirent.h>
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cyclegc_report/output_file.h"
#include "cyclegc_report/report.h"
#include "cyclegc_report/suppressions.h"
#include "heap_access.h"
#include "heap_scan.h"
#include "leak_summary.h"
#include "memory_map.h"
#include "options.h"
#include "symbolizer.h"

namespace cyclegc::agent {
namespace {

// The frames of the allocation itself, before the program's: the hook, malloc, operator new,
// and libstdc++'s allocator and shared_ptr machinery (inlined or not).
bool allocation_machinery(const Frame& f) {
  // An inlined frame is named without its scope ("allocate"): its file says it is libstdc++'s.
  if (absl::StrContains(f.file, "/include/c++/")) return true;
  const std::string name = report::function_name(f.function);
  if (absl::StartsWith(name, "std::") || absl::StartsWith(name, "__gnu_cxx::") ||
      absl::StartsWith(name, "operator new") || name == "malloc" || name == "calloc" ||
      name == "realloc" || name == "aligned_alloc" || name == "posix_memalign" ||
      absl::StartsWith(name, "cyclegc::agent::") || absl::StartsWith(name, "absl::")) {
    return true;
  }
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(f.pc), &info) != 0 && info.dli_fname) {
    const std::string module = info.dli_fname;
    return absl::StrContains(module, "libcyclegc_agent") ||
           absl::StrContains(module, "libstdc++") || absl::StrContains(module, "/libc.so");
  }
  return false;
}

bool process_startup(const Frame& f) {
  return f.function == "_start" || absl::StartsWith(f.function, "__libc_start") ||
         absl::StrContains(f.file, "/sysdeps/");
}

// Runs `fn(mappings)` with allocating threads held (HeapAccess); false when the process's
// mappings cannot be read.
template <typename Fn>
bool locked(const HeapAccess* heap, Fn&& fn) {
  heap->begin_scan();
  const std::optional<cyclegc::detail::MemoryMap> map = cyclegc::detail::MemoryMap::read_self();
  if (map) fn(*map);
  heap->end_scan();
  return map.has_value();
}

// Whether this process has a thread besides the calling one.
bool other_threads_run() {
  DIR* dir = opendir("/proc/self/task");
  if (dir == nullptr) return true;  // cannot tell: assume so
  int threads = 0;
  while (const dirent* e = readdir(dir)) threads += e->d_name[0] != '.';
  closedir(dir);
  return threads > 1;
}

// "app+0x1a2b" for a pc no symbol names (a stripped or static function): what addr2line takes.
std::string module_offset(std::uintptr_t pc) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(pc), &info) == 0 || info.dli_fname == nullptr) return "";
  const char* slash = std::strrchr(info.dli_fname, '/');
  return absl::StrCat(slash ? slash + 1 : info.dli_fname, "+0x",
                      absl::Hex(pc - reinterpret_cast<std::uintptr_t>(info.dli_fbase)));
}

std::vector<report::Frame> frames_of(const AllocationStacks& stacks, std::uint32_t id, int depth) {
  std::vector<report::Frame> out;
  int n = 0;
  const std::uintptr_t* pcs = stacks.frames(id, &n);
  for (int i = 0; pcs != nullptr && i < n; ++i) {
    for (const Frame& f : symbolize(pcs[i])) {
      if (out.empty() && allocation_machinery(f)) continue;
      if (process_startup(f)) return out;
      out.push_back({f.function.empty() ? module_offset(f.pc) : f.function, f.file, f.line});
      if (static_cast<int>(out.size()) == depth) return out;
    }
  }
  return out;
}

report::Report build(const HeapAnalysis& a, const AllocationStacks& stacks, int depth) {
  report::Report r;
  const int n = static_cast<int>(a.objects.size());
  absl::flat_hash_map<std::uint32_t, int> report_stack;
  auto stack_of = [&](std::uint32_t id) {
    if (id == 0 || depth == 0) return -1;
    auto [it, added] = report_stack.try_emplace(id, static_cast<int>(r.stacks.size()));
    if (added) r.stacks.push_back({it->second, frames_of(stacks, id, depth)});
    return it->second;
  };
  std::vector<bool> reported(n), held_from_outside(n, false);
  for (int i = 0; i < n; ++i) {
    const SharedObject& o = a.objects[i];
    reported[i] = o.leaked;
    if (!o.leaked) continue;
    report::Object obj;
    obj.id = i;
    obj.type = a.types[o.type];
    obj.address = hex_address(reinterpret_cast<const void*>(o.value));
    obj.size = o.value_end - o.value;
    obj.label = absl::StrCat("<", obj.type, " ", obj.address, ">");
    obj.stack = stack_of(o.stack);
    obj.refcount = o.use_count;
    r.objects.push_back(std::move(obj));
    r.held_by_leaks.push_back(i);
    for (const Graph::Out& e : a.graph.edges_of(i)) {
      if (a.objects[e.to].leaked) r.edges.push_back({i, e.to, a.graph.label(e)});
    }
  }
  const TypeOf type_of{[&](int i) -> const void* { return &a.types[a.objects[i].type]; },
                       [](const void* t) { return *static_cast<const std::string*>(t); }};
  add_cycles_and_chains(r, a.graph, reported, held_from_outside, type_of);
  absl::flat_hash_map<std::pair<std::uint32_t, std::uint32_t>, report::LiveGroup> by_site;
  for (const SharedObject& o : a.objects) {
    report::LiveGroup& g = by_site[{o.type, o.stack}];
    ++g.count;
    g.bytes += o.value_end - o.value;
  }
  // In a stable order: by type, then allocation stack.
  std::map<std::pair<std::string, std::uint32_t>, report::LiveGroup> groups;
  for (auto& [key, g] : by_site) groups[{a.types[key.first], key.second}] = g;
  for (auto& [key, g] : groups) {
    g.type = key.first;
    g.stack = stack_of(key.second);
    r.live.push_back(g);
  }
  return r;
}

}  // namespace
}  // namespace cyclegc::agent

extern "C" __attribute__((visibility("default"))) std::size_t cyclegc_heap_report(
    const cyclegc::agent::HeapAccess* heap, const char* reason) {
  using namespace cyclegc::agent;
  namespace report = cyclegc::report;
  const Options options = parse_options(heap->options_text ? heap->options_text : "").options;
  const bool wanted = options.report_path != "none" || options.summary || options.exitcode != 0;
  if (!wanted) return 0;
  const auto start = std::chrono::steady_clock::now();
  // Where other threads run, the types alive first, and their debug information read without
  // the locks: allocating threads should not wait for a program's DWARF. Alone, in one pass.
  const bool threads = other_threads_run();
  std::unique_ptr<DebugFields> debug;
  bool mapped = true;
  if (threads) {
    std::vector<std::string> types;
    mapped = locked(heap, [&](const cyclegc::detail::MemoryMap& map) {
      types = shared_types(*heap->blocks, map);
    });
    if (mapped && types.empty()) return 0;  // no shared object alive: nothing to say
    if (mapped) debug = DebugFields::load(types);
  }
  auto analyze = [&] {
    HeapAnalysis a;
    mapped = mapped && locked(heap, [&](const cyclegc::detail::MemoryMap& map) {
               a = analyze_heap(*heap->blocks, map, [&](const std::vector<std::string>& types) {
                 if (!threads) debug = DebugFields::load(types);
                 return debug.get();
               });
             });
    return a;
  };
  HeapAnalysis a = analyze();
  if (!mapped) {
    std::fputs("cyclegc: cannot look for std::shared_ptr cycles: /proc/self/maps is unreadable\n",
               stderr);
    return 0;
  }
  const bool leaks_found =
      std::any_of(a.objects.begin(), a.objects.end(), [](const auto& o) { return o.leaked; });
  if (leaks_found && threads) confirm_leaks(a, analyze());  // heap_scan.h says why
  const double scan_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (a.objects.empty()) return 0;

  std::fflush(stdout);  // the program's own output first
  report::Report r = build(a, *heap->stacks, options.stack_depth);
  r.process = {getpid(),
               executable(),
               heap->options_text ? heap->options_text : "",
               options.stack_depth == 0 ? "off" : "frame-pointer",
               reason,
               absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::Now(), absl::UTCTimeZone()),
               std::string(report::kSharedPtrHeap)};
  if (!options.suppressions.empty()) {
    auto loaded = report::load_suppressions(options.suppressions);
    if (loaded.ok()) {
      report::apply_suppressions(*loaded, r);
    } else {
      std::fprintf(stderr, "cyclegc: ignoring suppressions: %s\n",
                   std::string(loaded.status().message()).c_str());
    }
  }
  std::string path;
  if (options.report_path != "none") {
    // The number of the report: one per reason is enough to keep mid-run reports apart.
    static int written = 0;
    path = expand_report_path(options.report_path, getpid(), written++);
    const report::OutputFile how{"report", 0600, /*in_place=*/false};
    if (absl::Status s = report::write_file_atomically(
            path, how, [&](report::Sink sink) { report::to_json(r, sink); });
        !s.ok()) {
      std::fprintf(stderr, "cyclegc: %s\n", std::string(s.message()).c_str());
      path.clear();
    }
  }
  const bool at_exit = std::string(reason) == "exit";
  const bool print = options.summary && (at_exit || !path.empty());
  const std::size_t leaks = print_summary(r, path, print);
  if (print) {
    std::fprintf(stderr,
                 "cyclegc: std::shared_ptr heap: %zu shared objects alive in %zu blocks, "
                 "analyzed in %.3f s%s\n",
                 a.objects.size(), a.blocks, scan_s,
                 a.inferred ? "; without debug information (-g) for some leaked types, their "
                              "edges are inferred from the counts and labelled by offset"
                            : "");
  }
  return leaks;
}
