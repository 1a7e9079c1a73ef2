// gc_get_referents_cycles: a breadth-first walk over get_referents() that finds the cycle.
#include <deque>
#include <set>
#include <utility>

#include "graph.h"

int main() {
  unbuffered_output();
  auto [one, two, three] = make_three_cycle<Graph>();
  std::cout << "\n";

  // Addresses, not references, are remembered, so the walk keeps nothing alive.
  std::set<const void*> seen;
  std::deque<std::pair<std::vector<cyclegc::AnyRef>, cyclegc::AnyRef>> to_process;
  to_process.emplace_back(std::vector<cyclegc::AnyRef>{}, three);
  while (!to_process.empty()) {
    auto [chain, next] = std::move(to_process.front());
    to_process.pop_front();
    chain.push_back(next);
    std::cout << "Examining: " << next.repr() << "\n";
    seen.insert(next.address());
    for (const auto& r : cyclegc::get_referents(next)) {
      if (seen.count(r.address())) {
        std::cout << "\nFound a cycle to " << r.repr() << ":\n";
        for (std::size_t i = 0; i < chain.size(); ++i) {
          std::cout << "  " << i << ":  " << chain[i].repr() << "\n";
        }
      } else {
        to_process.emplace_back(chain, r);
      }
    }
  }
  three->next = nullptr;
}
