// For agent_test.cc: a cyclegc program linked against libcyclegc.a instead of libcyclegc.so.
#include <cstdio>

#include "cyclegc/cyclegc.h"

struct Loop {
  cyclegc::Ref<Loop> self;
  void trace(cyclegc::Visitor& v) const { v("self", self); }
};

int main() {
  auto loop = cyclegc::make<Loop>();
  loop->self = loop;
  std::printf("made a cycle\n");
}
