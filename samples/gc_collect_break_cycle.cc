// gc_collect_break_cycle: with --legacy (Python 2), a finalizer cycle stays in garbage() until
// the program breaks the cycle and empties garbage(); refcounting then frees the nodes. Under
// PEP 442 (the default) the first collection already frees it, so there is nothing to break.
#include "graph.h"

static void collect_and_report() {
  std::cout << "\nCollecting...\n";
  std::size_t n = cyclegc::collect();
  std::cout << "Unreachable objects: " << n << "\n";
  std::cout << "Remaining Garbage: " << format_garbage() << "\n";
}

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
  collect_and_report();

  std::cout << "\nBreaking the cycle\n";
  if (cyclegc::garbage().empty()) {
    std::cout << "Nothing to break: garbage() is empty\n";
  } else {
    cyclegc::garbage()[0].as<FinalizingGraph>()->set_next(nullptr);
  }
  std::cout << "Removing references in gc.garbage\n";
  cyclegc::garbage().clear();

  collect_and_report();
}
