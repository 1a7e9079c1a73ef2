// leaky_tree: a document tree whose nodes keep a strong reference to their parent. Every tree
// is one big cycle, so dropping the root frees nothing until the collector runs; the agent shows
// the cycle, the back-pointer that closes it, and where each node was made.
// Usage: leaky_tree [DOCUMENTS] [NODES_PER_DOCUMENT]   (defaults 3 and 4)
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "cyclegc/cyclegc.h"

struct TreeNode {
  std::string name;
  cyclegc::Ref<TreeNode> parent;  // the leak: should have been a Weak
  std::vector<cyclegc::Ref<TreeNode>> children;
  explicit TreeNode(std::string n) : name(std::move(n)) {}
  void trace(cyclegc::Visitor& v) const {
    v("parent", parent);
    v("children", children);
  }
  std::string repr() const { return "TreeNode(" + name + ")"; }
};

cyclegc::Ref<TreeNode> add_child(const cyclegc::Ref<TreeNode>& parent, std::string name) {
  auto child = cyclegc::make<TreeNode>(std::move(name));  // ALLOC: tree-child
  child->parent = parent;
  parent->children.push_back(child);
  return child;
}

void build_document(int index, int nodes) {
  auto root = cyclegc::make<TreeNode>("doc" + std::to_string(index));  // ALLOC: tree-root
  for (int i = 0; i < nodes; ++i) add_child(root, "para" + std::to_string(i));
}  // the root goes out of scope; the tree keeps itself alive

int main(int argc, char** argv) {
  const int documents = argc > 1 ? std::atoi(argv[1]) : 3;
  const int nodes = argc > 2 ? std::atoi(argv[2]) : 4;
  for (int i = 0; i < documents; ++i) build_document(i, nodes);
  std::cout << "built " << documents << " documents of " << nodes + 1 << " nodes\n";
}
