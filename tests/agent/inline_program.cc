// Built at -O2 (tests/agent/CMakeLists.txt): make<> sits in helpers the compiler inlines into
// their callers, as a real program's factories are, so their frames exist only in the debug
// information's inline records.
#include <cyclegc/cyclegc.h>

#include <cstdio>

namespace {

struct Node {
  cyclegc::Ref<Node> next;
  void trace(cyclegc::Visitor& v) const { v("next", next); }
};

[[gnu::always_inline]] inline cyclegc::Ref<Node> new_node() {
  return cyclegc::make<Node>();  // ALLOC: inlined-make
}

[[gnu::always_inline]] inline void make_pair_cycle() {
  auto a = new_node();  // ALLOC: inlined-caller
  auto b = new_node();
  a->next = b;
  b->next = a;
}

}  // namespace

int main() {
  make_pair_cycle();  // ALLOC: outer-caller
  std::puts("made a pair");
}
