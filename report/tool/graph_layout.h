// Graphviz's dot engine, in process (libgvc), laying a drawing out as SVG for the page: ranks,
// edge routing and label placement that never overlap, which no hand-made circle achieves for a
// dense cycle. One context for the life of the tool; the engine is single-threaded, as is the
// tool.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace cyclegc::report {

// The SVG element (no XML prologue) for a DOT graph, or why Graphviz could not lay it out (its
// plugins missing, say): the caller then shows the drawing some other way.
absl::StatusOr<std::string> layout_svg(const std::string& dot);

}  // namespace cyclegc::report
