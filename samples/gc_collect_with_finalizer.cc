// gc_collect_with_finalizer: a cycle whose objects have finalizers. Python 3 (PEP 442) runs the
// finalizers and frees the cycle; with --legacy, Python 2 kept it in garbage as uncollectable.
#include "graph.h"

int main(int argc, char** argv) {
  unbuffered_output();
  if (legacy_requested(argc, argv)) {
    cyclegc::set_finalizer_policy(cyclegc::FinalizerPolicy::kLegacy);
  }
  {
    auto one = cyclegc::make<FinalizingGraph>("one");
    auto two = cyclegc::make<FinalizingGraph>("two");
    auto three = cyclegc::make<FinalizingGraph>("three");
    one->set_next(two);
    two->set_next(three);
    three->set_next(one);
  }

  std::cout << "Collecting...\n";
  std::size_t n = cyclegc::collect();
  std::cout << "Unreachable objects: " << n << "\n";
  std::cout << "Remaining Garbage: " << format_garbage() << "\n";
  cyclegc::set_finalizer_policy(cyclegc::FinalizerPolicy::kPep442);
  // Leave nothing behind: break whatever cycle garbage() still holds.
  for (const auto& g : cyclegc::garbage().items()) g.as<FinalizingGraph>()->next = nullptr;
  cyclegc::garbage().clear();
}
