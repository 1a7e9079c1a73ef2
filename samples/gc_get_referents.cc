// gc_get_referents: what a Graph node refers to.
#include "graph.h"

int main() {
  unbuffered_output();
  auto [one, two, three] = make_three_cycle<Graph>();

  std::cout << "\nthree refers to:\n";
  for (const auto& edge : cyclegc::get_referent_edges(three)) {
    std::cout << "  " << edge.label << ": " << edge.target.repr() << "\n";
  }
  three->next = nullptr;  // leave no cycle behind
}
