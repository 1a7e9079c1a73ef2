// The preloaded object's side of the std::shared_ptr analysis: heap tracking through the
// interposed malloc family (heap_hooks.cc), and the report, made by the analyzer object it
// loads when one is due (heap_access.h).
#pragma once

#include <cstddef>

#include "options.h"

namespace cyclegc::agent {

// At the preloaded object's start: tracks from now on, unless it cannot safely.
void start_heap_tracking(const Options& options);
// When libcyclegc.so announces itself: its own agent takes over.
void stop_heap_tracking();
bool heap_tracking();
// Why tracking stayed off although asked for (a foreign heap), or null.
const char* heap_tracking_refusal();
std::size_t heap_live_blocks();

// Loads the analyzer at `analyzer_path` and has it write a report; returns its leak count.
std::size_t write_heap_report(const char* analyzer_path, const char* reason, int stack_depth,
                              const char* options_text);

}  // namespace cyclegc::agent
