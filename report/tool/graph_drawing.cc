#include "graph_drawing.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace cyclegc::report {
namespace {

// Inside a quoted DOT string a backslash starts an escape (\N, \G, \l ...) and a quote ends it;
// a NUL would end the text Graphviz reads, so it is drawn as the two characters \0.
std::string dot_escape(const std::string& s) {
  return absl::StrReplaceAll(s, {{"\\", "\\\\"},
                                 {"\"", "\\\""},
                                 {"\n", "\\n"},
                                 {"\r", "\\n"},
                                 {std::string(1, '\0'), "\\\\0"}});
}

}  // namespace

Drawing cycle_drawing(const Cycle& c) {
  Drawing d;
  d.nodes.insert(c.members.begin(), c.members.end());
  d.edges = c.edges;
  d.closing.insert({c.closing_edge.from, c.closing_edge.to, c.closing_edge.label});
  return d;
}

std::string dot_text(const Analysis& a, const Drawing& d, NodeText text) {
  std::string out =
      "digraph cyclegc {\n  node [shape=box, style=\"rounded,filled\", fillcolor=\"#dbe9ff\", "
      "color=\"#3465a4\", fontname=\"monospace\", fontsize=11];\n  edge [fontname=\"monospace\", "
      "fontsize=10, color=\"#555555\"];\n";
  for (int id : d.nodes) {
    const Object& o = a.object(id);
    const std::string label = text == NodeText::kTypeAndLabel
                                  ? absl::StrCat(dot_escape(o.type), "\\n", dot_escape(o.label))
                                  : dot_escape(o.label);
    absl::StrAppend(&out, "  n", id, " [label=\"", label, "\"",
                    o.suppressed ? ", style=\"rounded,dashed\"" : "", "];\n");
  }
  for (const Edge& e : d.edges) {
    const bool closes = d.closing.count({e.from, e.to, e.label}) > 0;
    absl::StrAppend(&out, "  n", e.from, " -> n", e.to, " [label=\"", dot_escape(e.label), "\"",
                    closes ? ", color=red, fontcolor=red, penwidth=2, class=\"closing\"" : "",
                    "];\n");
  }
  return out + "}\n";
}

}  // namespace cyclegc::report
