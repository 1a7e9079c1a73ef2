// For host_safety_test.cc: a program that knows nothing of cyclegc and loads a plugin that uses
// it (argv[1]) with dlopen(); with `raise` after it, then sends itself SIGUSR1.
#include <dlfcn.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

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
  if (argc > 2 && std::strcmp(argv[2], "raise") == 0) {
    raise(SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // for the report to be written
  }
  return 0;
}
