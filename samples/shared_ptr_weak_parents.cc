// A correct std::shared_ptr program: the tree of shared_ptr_tree.cc with its parent pointers
// made std::weak_ptr. Every node is freed when the root goes; the agent must report nothing,
// although a node is still alive (held by a global) when the program ends.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

struct Node : std::enable_shared_from_this<Node> {
  std::string name;
  std::weak_ptr<Node> parent;
  std::vector<std::shared_ptr<Node>> kids;
  std::shared_ptr<Node> add(std::string child_name) {
    auto child = std::make_shared<Node>();
    child->name = std::move(child_name);
    child->parent = weak_from_this();
    kids.push_back(child);
    return child;
  }
};

std::shared_ptr<Node> g_kept;  // alive until the static destructors

int main() {
  auto root = std::make_shared<Node>();
  root->name = "root";
  for (int i = 0; i < 3; ++i) root->add("child" + std::to_string(i))->add("grandchild");
  g_kept = root->kids[1];
  auto leaked_on_purpose = new std::shared_ptr<Node>(root);  // a plain leak, not a cycle
  std::printf("tree of %zu, kept %s\n", root->kids.size(), g_kept->name.c_str());
  (void)leaked_on_purpose;
}
