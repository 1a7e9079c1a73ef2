// gc_get_referrers: find the nodes that refer to each node, and break the cycle through them.
// By default (Python 3) the nodes are still held by local variables while this happens; with
// --legacy (Python 2) they were dropped first and sit in garbage() as uncollectable.
#include "graph.h"

using Node = FinalizingGraph;

// get_referrers() sees tracked objects only, so nothing needs ignoring: neither this
// function's locals nor garbage() itself are heap objects the collector tracks.
static std::vector<cyclegc::Ref<Node>> find_referring_graphs(const cyclegc::AnyRef& obj) {
  std::cout << "Looking for references to " << obj.repr() << "\n";
  std::vector<cyclegc::Ref<Node>> found;
  for (const auto& r : cyclegc::get_referrers(obj)) {
    if (auto graph = r.as<Node>()) found.push_back(graph);
  }
  return found;
}

static void clear_referrers(const std::vector<cyclegc::AnyRef>& objects) {
  std::cout << "\nClearing referrers:\n";
  for (const auto& obj : objects) {
    for (const auto& ref : find_referring_graphs(obj)) {
      std::cout << "Found referrer: " << ref->repr() << "\n";
      ref->set_next(nullptr);
    }
  }
}

int main(int argc, char** argv) {
  unbuffered_output();
  const bool legacy = apply_legacy_flag(argc, argv);

  auto [one, two, three] = make_three_cycle<Node>();
  if (legacy) one = two = three = nullptr;  // the Python 2 article drops them first

  collect_and_report();
  clear_referrers(legacy ? cyclegc::garbage().items()
                         : std::vector<cyclegc::AnyRef>{one, two, three});

  std::cout << "\nClearing gc.garbage:\n";
  cyclegc::garbage().clear();

  collect_and_report();
  one = nullptr;  // what the interpreter does at exit, in the same order
  two = nullptr;
  three = nullptr;
}
