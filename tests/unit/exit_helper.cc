// Leaves a cycle unreachable at exit, for process_test.cc. Usage: exit_helper pep442|legacy
// [--debug|--saveall]. Under PEP 442 the final collection at exit must finalize and free the cycle;
// under the legacy policy it stays uncollectable, which the exit report must say. `exit_helper
// fork` instead forks just after the first tracked object started the collector thread; the child
// makes objects and exits, which must not hang. `exit_helper globals` leaves a cycle whose
// destructor uses a global of the program's.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cyclegc/cyclegc.h"

struct ExitNode {
  const char* name;
  cyclegc::Ref<ExitNode> next;
  explicit ExitNode(const char* n) : name(n) {}
  ~ExitNode() { std::printf("destroyed %s\n", name); }
  void trace(cyclegc::Visitor& v) const { v("next", next); }
  void finalize() { std::printf("finalized %s\n", name); }
  std::string repr() const { return std::string("ExitNode(") + name + ")"; }
};

// A global of the program's, destroyed by its static destructors; a destructor of garbage that
// runs after them reads a dead object (and, under ASan, a use-after-free for its vector).
struct Log {
  bool alive = true;
  std::vector<std::string> lines;
  ~Log() { alive = false; }
} g_log;

struct Logging {
  cyclegc::Ref<Logging> self;
  void trace(cyclegc::Visitor& v) const { v("self", self); }
  ~Logging() {
    std::printf("destroyed with the program's globals %s\n", g_log.alive ? "alive" : "gone");
    if (g_log.alive) g_log.lines.push_back("destroyed");
  }
};

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  if (argc < 2) return 2;
  if (std::strcmp(argv[1], "fork") == 0) {
    auto first = cyclegc::make<ExitNode>("first");  // starts the collector thread
    const pid_t child = fork();
    if (child == 0) {
      auto loop = cyclegc::make<ExitNode>("in child");
      loop->next = loop;
      std::exit(0);  // the final collection runs, and allocates
    }
    int status = -1;
    waitpid(child, &status, 0);
    std::printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
  }
  if (std::strcmp(argv[1], "globals") == 0) {
    auto loop = cyclegc::make<Logging>();
    loop->self = loop;
    std::printf("main returns\n");
    return 0;
  }
  if (std::strcmp(argv[1], "legacy") == 0) {
    cyclegc::set_finalizer_policy(cyclegc::FinalizerPolicy::kLegacy);
  }
  if (argc > 2 && std::strcmp(argv[2], "--debug") == 0) {
    cyclegc::set_debug(cyclegc::DEBUG_UNCOLLECTABLE);
  }
  if (argc > 2 && std::strcmp(argv[2], "--saveall") == 0)
    cyclegc::set_debug(cyclegc::DEBUG_SAVEALL);
  auto a = cyclegc::make<ExitNode>("a");
  auto b = cyclegc::make<ExitNode>("b");
  a->next = b;
  b->next = a;
  std::printf("main returns\n");
  return 0;
}
