// gc_get_referents: what a Graph node refers to.
#include "graph.h"

int main() {
  unbuffered_output();
  auto one = cyclegc::make<Graph>("one");
  auto two = cyclegc::make<Graph>("two");
  auto three = cyclegc::make<Graph>("three");
  one->set_next(two);
  two->set_next(three);
  three->set_next(one);

  std::cout << "\nthree refers to:\n";
  for (const auto& edge : cyclegc::get_referent_edges(three)) {
    std::cout << "  " << edge.label << ": " << edge.target.repr() << "\n";
  }
  three->next = nullptr;  // leave no cycle behind
}
