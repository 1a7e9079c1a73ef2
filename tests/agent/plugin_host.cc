// For host_safety_test.cc: a program that knows nothing of cyclegc and loads a plugin that uses
// it (argv[1]) with dlopen().
#include <dlfcn.h>

#include <cstdio>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* plugin = dlopen(argv[1], RTLD_NOW);
  if (!plugin) {
    std::fprintf(stderr, "%s\n", dlerror());
    return 1;
  }
  auto leave = reinterpret_cast<void (*)()>(dlsym(plugin, "plugin_leave_a_cycle"));
  if (!leave) return 1;
  leave();
  std::printf("plugin ran\n");
  return 0;
}
