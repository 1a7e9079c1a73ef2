// gc_collect: a three-node cycle with no outside references is found and freed.
#include "graph.h"

int main() {
  unbuffered_output();
  make_three_cycle<Graph>();  // one = two = three = None

  for (int i = 0; i < 2; ++i) {
    std::cout << "\nCollecting " << i << " ...\n";
    std::size_t n = cyclegc::collect();
    std::cout << "Unreachable objects: " << n << "\n";
    std::cout << "Remaining Garbage: " << format_garbage() << "\n";
  }
}
