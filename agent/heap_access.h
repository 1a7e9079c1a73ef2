// What the preloaded object (heap_hooks.cc) hands the heap analyzer, libcyclegc_agent_heap.so,
// when a report is due: the live blocks, their stacks, and the scan's lock. Both objects are
// built from the same sources, so the tables are shared as they are, not copied.
#pragma once

#include "allocation_stacks.h"
#include "live_blocks.h"

namespace cyclegc::agent {

struct HeapAccess {
  LiveBlocks* blocks;
  AllocationStacks* stacks;
  int stack_depth;           // frames the report shows per site
  const char* options_text;  // CYCLEGC_OPTIONS as given
  // Between these, allocating threads wait and the calling thread's own frees are taken out of
  // the table without its locks (which the thread holds).
  void (*begin_scan)();
  void (*end_scan)();
};

}  // namespace cyclegc::agent

// The analyzer's entry point: writes the report for `reason` ("exit", "signal", "interval")
// and returns how many leaked objects it found (unsuppressed).
extern "C" std::size_t cyclegc_heap_report(const cyclegc::agent::HeapAccess* heap,
                                           const char* reason);
