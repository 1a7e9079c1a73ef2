// gc_debug_stats: DEBUG_STATS reports each collection on stderr.
#include "graph.h"

int main() {
  unbuffered_output();
  cyclegc::set_debug(cyclegc::DEBUG_STATS);
  {
    auto a = cyclegc::make<Graph>("a");  // something for the collector to find
    a->set_next(a, false);
  }
  cyclegc::collect();
  std::cout << "Exiting\n";
}
