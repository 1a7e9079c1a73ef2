// gc_collect_with_finalizer: a cycle whose objects have finalizers. Python 3 (PEP 442) runs the
// finalizers and frees the cycle; with --legacy, Python 2 kept it in garbage as uncollectable.
#include "graph.h"

int main(int argc, char** argv) {
  unbuffered_output();
  apply_legacy_flag(argc, argv);
  make_three_cycle<FinalizingGraph>();  // one = two = three = None

  collect_and_report();
  cyclegc::set_finalizer_policy(cyclegc::FinalizerPolicy::kPep442);
  // Leave nothing behind: break whatever cycle garbage() still holds.
  for (const auto& g : cyclegc::garbage().items()) g.as<FinalizingGraph>()->next = nullptr;
  cyclegc::garbage().clear();
}
