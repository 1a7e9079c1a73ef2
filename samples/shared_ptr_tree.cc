// A plain std::shared_ptr program, no cyclegc in it: a tree whose children hold their parent
// with a strong pointer. Every parent-child pair is a cycle, so dropping the root frees nothing.
// Under the agent (LD_PRELOAD=libcyclegc_agent.so) the report names the cycle, its types and
// the member that closes it.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

struct Node {
  std::string name;
  std::shared_ptr<Node> parent;  // the bug: a std::weak_ptr<Node> would break the cycle
  std::vector<std::shared_ptr<Node>> kids;
};

std::shared_ptr<Node> add_child(const std::shared_ptr<Node>& parent, std::string name) {
  auto child = std::make_shared<Node>();  // ALLOC: sp-child
  child->name = std::move(name);
  child->parent = parent;
  parent->kids.push_back(child);
  return child;
}

int main() {
  auto root = std::make_shared<Node>();  // ALLOC: sp-root
  root->name = "root";
  for (int i = 0; i < 3; ++i) add_child(root, "child" + std::to_string(i));
  std::printf("built a tree of %zu children\n", root->kids.size());
  root.reset();  // leaks: each child still holds the root, and the root its children
}
