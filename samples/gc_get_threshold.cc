// gc_get_threshold: the default thresholds.
#include "graph.h"

int main() {
  auto [t0, t1, t2] = cyclegc::get_threshold();
  std::cout << "(" << t0 << ", " << t1 << ", " << t2 << ")\n";
}
