// Under the legacy finalizer policy (Python 2's), garbage with a finalizer is uncollectable, and
// so is everything it reaches: here a Closer with a finalizer, in a cycle of its own, holds a
// two-node cycle that has none. The collector calls all three uncollectable; the report must say
// what it said.
#include <cstdio>
#include <string>

#include "cyclegc/cyclegc.h"

struct Node {
  std::string name;
  cyclegc::Ref<Node> next;
  void trace(cyclegc::Visitor& v) const { v("next", next); }
  std::string repr() const { return "Node(" + name + ")"; }
};

struct Closer {
  cyclegc::Ref<Closer> self;
  cyclegc::Ref<Node> held;
  void trace(cyclegc::Visitor& v) const {
    v("self", self);
    v("held", held);
  }
  void finalize() {}
  std::string repr() const { return "Closer"; }
};

int main() {
  cyclegc::set_finalizer_policy(cyclegc::FinalizerPolicy::kLegacy);
  auto closer = cyclegc::make<Closer>();
  closer->self = closer;
  closer->held = cyclegc::make<Node>();
  closer->held->name = "a";
  closer->held->next = cyclegc::make<Node>();
  closer->held->next->name = "b";
  closer->held->next->next = closer->held;
  closer = nullptr;
  std::puts("dropped");
}
