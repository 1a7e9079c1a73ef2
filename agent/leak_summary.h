// What both of the agent's report writers print on stderr (the collector's, agent.cc, and the
// std::shared_ptr heap's, heap_report.cc): a line per leaked object as CPython's gc debug output
// has it, with its allocation site, then the totals and where the report went.
#pragma once

#include <cstddef>
#include <string>

#include "cyclegc_report/report.h"

namespace cyclegc::agent {

// The program's executable, for the report.
std::string executable();

// Prints the summary of `r` when `print` (the first 20 objects, then the totals); returns the
// number of unsuppressed leaks either way. `path`: where the report was written, or "".
std::size_t print_summary(const report::Report& r, const std::string& path, bool print);

}  // namespace cyclegc::agent
