// alloc_heavy: makes and frees many short-lived tracked objects (and leaks one cycle), the
// workload that shows what the agent's per-allocation stack capture costs.
// Usage: alloc_heavy [OBJECTS]   (default 1,000,000)
#include <cstdlib>
#include <iostream>

#include "cyclegc/cyclegc.h"

struct Item {
  cyclegc::Ref<Item> next;
  long value = 0;
  void trace(cyclegc::Visitor& v) const { v("next", next); }
};

int main(int argc, char** argv) {
  const long objects = argc > 1 ? std::atol(argv[1]) : 1'000'000;
  long sum = 0;
  for (long i = 0; i < objects; i += 2) {  // pairs, freed by refcounting as they go
    auto a = cyclegc::make<Item>();
    a->next = cyclegc::make<Item>();
    a->next->value = i;
    sum += a->next->value;
  }
  auto leak = cyclegc::make<Item>();  // ALLOC: leaked
  leak->next = leak;
  std::cout << "made " << objects << " objects (checksum " << sum % 1000 << ")\n";
}
