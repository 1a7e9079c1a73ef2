// gc_collect_break_cycle: with --legacy (Python 2), a finalizer cycle stays in garbage() until
// the program breaks the cycle and empties garbage(); refcounting then frees the nodes. Under
// PEP 442 (the default) the first collection already frees it, so there is nothing to break.
#include "graph.h"

int main(int argc, char** argv) {
  unbuffered_output();
  apply_legacy_flag(argc, argv);
  make_three_cycle<FinalizingGraph>();  // one = two = three = None
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
