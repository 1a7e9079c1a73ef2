// For agent_test.cc: leaves a cycle in the parent and another in a forked child, which exits
// normally; each process must write its own report.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cyclegc/cyclegc.h"

struct Loop {
  cyclegc::Ref<Loop> self;
  void trace(cyclegc::Visitor& v) const { v("self", self); }
};

void leave_a_cycle() {
  auto loop = cyclegc::make<Loop>();
  loop->self = loop;
}

int main() {
  leave_a_cycle();
  const pid_t child = fork();
  if (child == 0) {
    leave_a_cycle();
    std::exit(0);  // exit(), not _exit(): the child's agent writes its report on the way out
  }
  int status = 0;
  waitpid(child, &status, 0);
  std::printf("child %d exited with %d\n", child, WEXITSTATUS(status));
}
