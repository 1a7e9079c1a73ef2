// The object graph of the debug-flag samples: one/two form a plain cycle, three stands alone
// with a finalizer, four/five form a cycle of objects with finalizers.
#pragma once

#include "graph.h"

inline void build_debug_graphs(bool announce) {
  auto create = [announce](auto node) {
    if (announce) {
      std::printf("Creating %s %p (%s)\n", std::remove_reference_t<decltype(*node)>::kClassName,
                  static_cast<void*>(node.get()), node->name.c_str());
    }
    return node;
  };
  auto one = create(cyclegc::make<Graph>("one"));
  auto two = create(cyclegc::make<Graph>("two"));
  one->set_next(two, announce);
  two->set_next(one, announce);
  auto three = create(cyclegc::make<CleanupGraph>("three"));
  auto four = create(cyclegc::make<CleanupGraph>("four"));
  auto five = create(cyclegc::make<CleanupGraph>("five"));
  four->set_next(five, announce);
  five->set_next(four, announce);
  std::fflush(stdout);
}  // one = two = three = four = five = None: three dies now, by refcounting

// The saveall and leak samples: collect with `flags`, then print "Retained: Graph(one) 0x..."
// for every Graph the collector kept in garbage().
inline void collect_and_report_retained(int flags) {
  unbuffered_output();
  cyclegc::set_debug(flags);
  build_debug_graphs(false);

  std::cout << "Collecting\n";
  cyclegc::collect();
  std::cout << "Done\n";
  for (const auto& o : cyclegc::garbage().items()) {
    if (o.is<Graph>() || o.is<CleanupGraph>()) {
      std::cout << "Retained: " << o.repr() << " " << o.address() << "\n";
    }
  }
  cyclegc::set_debug(0);
}
