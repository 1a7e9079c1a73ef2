// A correct std::shared_ptr program that frees everything: shared objects in containers,
// aliasing, weak_ptrs that expire, enable_shared_from_this. The agent must report nothing.
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <vector>

struct Item : std::enable_shared_from_this<Item> {
  int value = 0;
  std::weak_ptr<Item> peer;
  std::function<int()> get;
};

int main() {
  std::map<int, std::shared_ptr<Item>> items;
  for (int i = 0; i < 100; ++i) {
    auto item = std::make_shared<Item>();
    item->value = i;
    std::weak_ptr<Item> self = item;
    item->get = [self] {
      auto p = self.lock();
      return p ? p->value : -1;
    };
    items[i] = item;
  }
  for (int i = 0; i + 1 < 100; ++i) items[i]->peer = items[i + 1];
  std::shared_ptr<int> alias(items[5], &items[5]->value);
  std::vector<std::shared_ptr<Item>> copies;
  for (auto& [k, v] : items) copies.push_back(v->shared_from_this());
  int sum = 0;
  for (auto& c : copies) sum += c->get();
  std::printf("sum %d, alias %d\n", sum, *alias);
}
