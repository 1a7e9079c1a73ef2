// gc_debug_collectable: DEBUG_COLLECTABLE | DEBUG_UNCOLLECTABLE name each object the collector
// finds. With --legacy (Python 2) the four/five cycle is uncollectable; under PEP 442 it is
// finalized and collected.
#include "debug_graphs.h"

int main(int argc, char** argv) {
  unbuffered_output();
  apply_legacy_flag(argc, argv);
  cyclegc::set_debug(cyclegc::DEBUG_COLLECTABLE | cyclegc::DEBUG_UNCOLLECTABLE);
  build_debug_graphs(true);

  std::cout << "\nCollecting\n";
  cyclegc::collect();
  std::cout << "Done\n";
  cyclegc::set_debug(0);
  for (const auto& g : cyclegc::garbage().items()) g.as<CleanupGraph>()->next = nullptr;
  cyclegc::garbage().clear();
}
