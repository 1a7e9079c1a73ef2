// Turns the heap as it is now into a Report: the garbage the collector kept (collectable,
// uncollectable, saved), live objects held by references no trace explains, the edges between
// them, their cycles with the edge that closes each, referrer chains, and live objects counted
// by type and allocation site.
#pragma once

#include <string>
#include <vector>

#include "cyclegc_report/report.h"
#include "stack_recorder.h"

namespace cyclegc::agent {

struct BuildInput {
  const StackRecorder* stacks = nullptr;
  std::vector<report::Collection> collections;
  std::size_t garbage_before = 0;  // garbage() entries that predate this report's collection
  bool legacy_policy = false;
  // At exit every object still alive was leaked (the program's own globals are gone), so all
  // of them are reported; earlier reports describe the garbage and count the living.
  bool at_exit = false;
};

report::Report build_report(const BuildInput& in);

}  // namespace cyclegc::agent
