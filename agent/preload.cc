// libcyclegc_agent.so, the object users preload. It links to nothing of cyclegc's, so it loads
// into every process of a process tree — shells, test runners, wrappers — wherever the library
// is installed, and costs nothing in those that never load libcyclegc.so. The library announces
// itself when it loads, at start or by dlopen (cyclegc_agent_library_loaded); only then is the
// agent proper, libcyclegc_agent_core.so beside this file, loaded, and it binds to that copy of
// the library by its soname.
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "options.h"

namespace cyclegc::agent {
namespace {

std::atomic<bool> g_core_loaded{false};
// Where the core is: beside this object. Found at this object's start, before the program can
// change its directory, or at the announcement if that comes first.
char g_core_path[PATH_MAX];

bool find_core_path() {
  if (g_core_path[0] != '\0') return true;
  Dl_info info{};
  char self[PATH_MAX];
  if (dladdr(reinterpret_cast<void*>(&find_core_path), &info) == 0 || info.dli_fname == nullptr ||
      realpath(info.dli_fname, self) == nullptr) {
    return false;
  }
  const char* slash = std::strrchr(self, '/');
  const int dir = static_cast<int>(slash - self);
  const int n =
      std::snprintf(g_core_path, sizeof g_core_path, "%.*s/libcyclegc_agent_core.so", dir, self);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof g_core_path) g_core_path[0] = '\0';
  return g_core_path[0] != '\0';
}

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

// Whether the executable's own symbol table names cyclegc functions: a program that links
// cyclegc statically, whose copy of the library announces itself to no agent. Read from the
// file at exit, only in a process where the agent stayed idle; a stripped executable says no.
bool links_cyclegc_statically() {
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
      found = strnlen(name, room) < room && std::strncmp(name, "_ZN7cyclegc", 11) == 0;
    }
  }
  munmap(map, size);
  return found;
}

__attribute__((constructor)) void preload_start() {
  if (getauxval(AT_SECURE) == 0) find_core_path();
}

// Silent where cyclegc is not used, unless asked; a static copy of cyclegc is worth a word.
__attribute__((destructor)) void preload_stop() {
  if (g_core_loaded.load() || getauxval(AT_SECURE) != 0) return;
  if (links_cyclegc_statically()) {
    std::fputs(
        "cyclegc: warning: this program links cyclegc statically (it has its own copy of "
        "the library), so the agent saw no object and stayed idle\n",
        stderr);
    return;
  }
  const char* text = std::getenv("CYCLEGC_OPTIONS");
  if (parse_options(text ? text : "").options.verbosity > 0) {
    std::fputs("cyclegc: this program does not load libcyclegc.so, so the agent stayed idle\n",
               stderr);
  }
}

}  // namespace
}  // namespace cyclegc::agent

// Called by libcyclegc.so once it has loaded (lib/src/collector_thread.cc).
extern "C" __attribute__((visibility("default"))) void cyclegc_agent_library_loaded() {
  if (getauxval(AT_SECURE) != 0) return;  // setuid or setgid: never act on the environment
  cyclegc::agent::load_core();
}
