#include "graph_layout.h"

#include <graphviz/gvc.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace cyclegc::report {
namespace {

// Graphviz reports errors through a callback: kept here for the status, never on stderr, where
// one bad label would print a line per drawing.
std::string& last_error() {
  static std::string text;
  return text;
}
int keep_error(char* message) {
  last_error() = std::string(absl::StripTrailingAsciiWhitespace(message));
  return 0;
}

GVC_t* context() {
  static GVC_t* const gvc = [] {
    agseterrf(keep_error);
    agseterr(AGERR);
    return gvContext();
  }();
  return gvc;
}

}  // namespace

absl::StatusOr<std::string> layout_svg(const std::string& dot) {
  GVC_t* gvc = context();
  if (gvc == nullptr) return absl::UnavailableError("Graphviz could not start");
  last_error().clear();
  std::unique_ptr<Agraph_t, int (*)(Agraph_t*)> graph(agmemread(dot.c_str()), agclose);
  if (!graph) return absl::InternalError(absl::StrCat("Graphviz: ", last_error()));
  if (gvLayout(gvc, graph.get(), "dot") != 0) {
    return absl::UnavailableError(absl::StrCat("Graphviz layout failed: ", last_error()));
  }
  char* data = nullptr;
  unsigned int length = 0;
  const int rendered = gvRenderData(gvc, graph.get(), "svg", &data, &length);
  gvFreeLayout(gvc, graph.get());
  if (rendered != 0 || data == nullptr) {
    if (data) gvFreeRenderData(data);
    return absl::UnavailableError(absl::StrCat("Graphviz SVG rendering failed: ", last_error()));
  }
  std::string svg(data, length);
  gvFreeRenderData(data);
  // The page inlines the <svg> element; the XML prologue and DOCTYPE before it are not HTML.
  if (const auto start = svg.find("<svg"); start != std::string::npos) svg.erase(0, start);
  return svg;
}

}  // namespace cyclegc::report
