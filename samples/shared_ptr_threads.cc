// A plain std::shared_ptr program: four threads each build a ring of nodes and drop it, while
// they also churn through short-lived objects. Every ring leaks; everything else is freed.
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

struct Link {
  int id = 0;
  std::shared_ptr<Link> next;
};

void build_ring(int n) {
  auto first = std::make_shared<Link>();
  auto last = first;
  for (int i = 1; i < n; ++i) {
    auto l = std::make_shared<Link>();
    l->id = i;
    last->next = l;
    last = l;
  }
  last->next = first;  // closes the ring: the bug
  for (int i = 0; i < 10000; ++i) {
    auto temporary = std::make_shared<Link>();  // freed at once: never reported
    temporary->id = i;
  }
}

int main() {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back(build_ring, 25);
  for (auto& t : threads) t.join();
  std::puts("four rings of 25 dropped");
}
