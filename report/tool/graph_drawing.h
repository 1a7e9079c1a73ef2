// A drawing of leaked objects and the edges between them, written as Graphviz DOT. `dot` prints
// it; the page has Graphviz lay it out (graph_layout.h). Labels come from an untrusted report:
// they are escaped here, once, so that no label can end a string or start a Graphviz escape.
#pragma once

#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "analysis.h"

namespace cyclegc::report {

struct Drawing {
  std::set<int> nodes;
  std::vector<Edge> edges;
  // The edges drawn as closing a cycle (from, to, label).
  std::set<std::tuple<int, int, std::string>> closing;
};

// One cycle: its members, its edges, its closing edge.
Drawing cycle_drawing(const Cycle& c);

enum class NodeText {
  kTypeAndLabel,  // "TreeNode\nTreeNode(doc0)": a graph of many types, read without a legend
  kLabel,         // the label alone: the page says the types around the drawing
};

std::string dot_text(const Analysis& a, const Drawing& d, NodeText text);

}  // namespace cyclegc::report
