// Leaves a cycle unreachable at exit, for process_test.cc. Usage: exit_helper pep442|legacy
// [--debug]. Under PEP 442 the final collection at exit must finalize and free the cycle; under
// the legacy policy it stays uncollectable, which the exit report must say.
#include <cstdio>
#include <cstring>

#include "cyclegc/cyclegc.h"

struct ExitNode {
  const char* name;
  cyclegc::Ref<ExitNode> next;
  explicit ExitNode(const char* n) : name(n) {}
  ~ExitNode() { std::printf("destroyed %s\n", name); }
  void trace(cyclegc::Visitor& v) const { v("next", next); }
  void finalize() { std::printf("finalized %s\n", name); }
};

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IONBF, 0);
  if (argc < 2) return 2;
  if (std::strcmp(argv[1], "legacy") == 0) {
    cyclegc::set_finalizer_policy(cyclegc::FinalizerPolicy::kLegacy);
  }
  if (argc > 2 && std::strcmp(argv[2], "--debug") == 0) {
    cyclegc::set_debug(cyclegc::DEBUG_UNCOLLECTABLE);
  }
  auto a = cyclegc::make<ExitNode>("a");
  auto b = cyclegc::make<ExitNode>("b");
  a->next = b;
  b->next = a;
  std::printf("main returns\n");
  return 0;
}
