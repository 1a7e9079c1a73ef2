// libcyclegc_agent.so, the object users preload. It links to nothing of cyclegc's, so it loads
// into every process of a process tree — shells, test runners, wrappers — wherever the library
// is installed. The library announces itself when it loads, at start or by dlopen
// (cyclegc_agent_library_loaded); only then is the agent proper, libcyclegc_agent_core.so
// beside this file, loaded, and it binds to that copy of the library by its soname.
//
// A process that never loads libcyclegc.so may still leak through std::shared_ptr cycles: there
// the heap hooks (heap_hooks.h) track its blocks, and at exit (or on the dump signal or
// interval), if any block is alive, the heap analyzer beside this file,
// libcyclegc_agent_heap.so, looks for them. A process with no shared object alive gets no
// report and no word.
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

#include "heap_hooks.h"
#include "options.h"
#include "report_trigger.h"

namespace cyclegc::agent {
namespace {

std::atomic<bool> g_core_loaded{false};
// Where the core and the heap analyzer are: beside this object. Found at this object's start,
// before the program can change its directory, or at the announcement if that comes first.
char g_core_path[PATH_MAX];
char g_heap_analyzer_path[PATH_MAX];

bool beside_self(char (&out)[PATH_MAX], const char* name) {
  Dl_info info{};
  char self[PATH_MAX];
  if (dladdr(reinterpret_cast<void*>(&beside_self), &info) == 0 || info.dli_fname == nullptr ||
      realpath(info.dli_fname, self) == nullptr) {
    return false;
  }
  const char* slash = std::strrchr(self, '/');
  const int dir = static_cast<int>(slash - self);
  const int n = std::snprintf(out, sizeof out, "%.*s/%s", dir, self, name);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof out) out[0] = '\0';
  return out[0] != '\0';
}

bool find_core_path() {
  if (g_core_path[0] != '\0') return true;
  beside_self(g_heap_analyzer_path, "libcyclegc_agent_heap.so");
  return beside_self(g_core_path, "libcyclegc_agent_core.so");
}

// The options, read at start (the program may change its environment).
Options* g_options = nullptr;
const char* g_options_text = nullptr;

void load_core() {
  if (g_core_loaded.exchange(true)) return;
  if (!find_core_path()) {
    std::fputs(
        "cyclegc: warning: the agent cannot tell where it was loaded from, so it stays "
        "idle\n",
        stderr);
    return;
  }
  // RTLD_GLOBAL: cyclegc::gtest looks up the core's allocation sites by name.
  if (dlopen(g_core_path, RTLD_NOW | RTLD_GLOBAL) == nullptr) {
    const char* why = dlerror();
    std::fprintf(stderr, "cyclegc: warning: the agent stays idle: %s\n", why ? why : g_core_path);
  }
}

// Whether the executable's own symbol table names a symbol that starts with one of `prefixes`:
// cyclegc functions in a program that links cyclegc statically, whose copy of the library
// announces itself to no agent; shared_ptr control blocks' vtables. Read from the file at exit,
// only in a process where the agent stayed idle; a stripped executable says no.
bool executable_names(std::initializer_list<const char*> prefixes) {
  const int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  void* map = fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(ElfW(Ehdr)))
                  ? mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)
                  : MAP_FAILED;
  close(fd);
  if (map == MAP_FAILED) return false;
  const auto* base = static_cast<const char*>(map);
  const auto size = static_cast<std::size_t>(st.st_size);
  const auto* ehdr = reinterpret_cast<const ElfW(Ehdr)*>(base);
  bool found = false;
  const bool sane = std::memcmp(ehdr->e_ident, ELFMAG, SELFMAG) == 0 &&
                    ehdr->e_shentsize == sizeof(ElfW(Shdr)) &&
                    ehdr->e_shoff + std::size_t{ehdr->e_shnum} * sizeof(ElfW(Shdr)) <= size;
  for (int i = 0; sane && !found && i < ehdr->e_shnum; ++i) {
    const auto* sh = reinterpret_cast<const ElfW(Shdr)*>(base + ehdr->e_shoff) + i;
    if (sh->sh_type != SHT_SYMTAB || sh->sh_link >= ehdr->e_shnum) continue;
    const auto* strtab = reinterpret_cast<const ElfW(Shdr)*>(base + ehdr->e_shoff) + sh->sh_link;
    if (sh->sh_offset + sh->sh_size > size || strtab->sh_offset + strtab->sh_size > size) continue;
    const auto* syms = reinterpret_cast<const ElfW(Sym)*>(base + sh->sh_offset);
    for (std::size_t k = 0; !found && k < sh->sh_size / sizeof(ElfW(Sym)); ++k) {
      if (syms[k].st_name >= strtab->sh_size || syms[k].st_shndx == SHN_UNDEF) continue;
      const char* name = base + strtab->sh_offset + syms[k].st_name;
      const std::size_t room = strtab->sh_size - syms[k].st_name;
      if (strnlen(name, room) == room) continue;
      for (const char* prefix : prefixes) {
        found |= std::strncmp(name, prefix, std::strlen(prefix)) == 0;
      }
    }
  }
  munmap(map, size);
  return found;
}

// Mid-run std::shared_ptr reports (dump_signal, interval_ms), while the heap is tracked.
ReportTrigger g_heap_trigger;

void write_heap_report_now(const char* reason) {
  write_heap_report(g_heap_analyzer_path, reason, g_options->stack_depth,
                    g_options_text ? g_options_text : "");
}

void heap_trigger_after_fork_child() { g_heap_trigger.after_fork_child(); }

__attribute__((constructor)) void preload_start() {
  if (getauxval(AT_SECURE) != 0) return;
  find_core_path();
  g_options_text = std::getenv("CYCLEGC_OPTIONS");
  g_options = new Options(parse_options(g_options_text ? g_options_text : "").options);
  if (g_core_loaded.load() || g_heap_analyzer_path[0] == '\0') return;
  start_heap_tracking(*g_options);
  if (heap_tracking() && (g_options->dump_signal != 0 || g_options->interval_ms > 0)) {
    // After the heap hooks' own fork handlers, which free the tables the new thread allocates in.
    pthread_atfork(nullptr, nullptr, heap_trigger_after_fork_child);
    g_heap_trigger.start(g_options->dump_signal, g_options->interval_ms, write_heap_report_now);
  }
}

// The std::shared_ptr report at exit, where the heap was tracked and something is alive.
// Returns whether the heap was looked at.
bool report_heap() {
  const char* refusal = heap_tracking_refusal();
  if (refusal != nullptr &&
      executable_names({"_ZTVSt23_Sp_counted_ptr_inplace", "_ZTVSt15_Sp_counted_ptr",
                        "_ZTVSt19_Sp_counted_deleter"})) {
    std::fprintf(stderr, "cyclegc: not looking for std::shared_ptr cycles: %s\n", refusal);
    return true;
  }
  if (!heap_tracking() || heap_live_blocks() == 0) return false;
  const std::size_t leaks = write_heap_report(g_heap_analyzer_path, "exit", g_options->stack_depth,
                                              g_options_text ? g_options_text : "");
  if (leaks > 0 && g_options->exitcode != 0) {
    std::fflush(nullptr);  // every stream the program left open: _exit() flushes none
    _exit(g_options->exitcode);
  }
  return true;
}

// Silent where cyclegc is not used, unless asked; a static copy of cyclegc is worth a word.
__attribute__((destructor)) void preload_stop() {
  if (g_core_loaded.load() || getauxval(AT_SECURE) != 0) return;
  g_heap_trigger.stop();
  const bool looked = report_heap();
  if (executable_names({"_ZN7cyclegc"})) {
    std::fputs(
        "cyclegc: warning: this program links cyclegc statically (it has its own copy of "
        "the library), so the agent saw no object and stayed idle\n",
        stderr);
    return;
  }
  if (!looked && g_options != nullptr && g_options->verbosity > 0) {
    std::fputs("cyclegc: this program does not load libcyclegc.so, so the agent stayed idle\n",
               stderr);
  }
}

}  // namespace
}  // namespace cyclegc::agent

// Called by libcyclegc.so once it has loaded (lib/src/collector_thread.cc).
extern "C" __attribute__((visibility("default"))) void cyclegc_agent_library_loaded() {
  if (getauxval(AT_SECURE) != 0) return;  // setuid or setgid: never act on the environment
  cyclegc::agent::stop_heap_tracking();   // the collector's own agent knows this program better
  // Not joined: the loader's lock is held here, which a report under way may be waiting for.
  cyclegc::agent::g_heap_trigger.stop_soon();
  cyclegc::agent::g_heap_trigger.release_signal();  // for the core to take
  cyclegc::agent::load_core();
}
