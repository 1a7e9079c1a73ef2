// The html command's page, apart from the command line: one self-contained document built from
// an analysed report, in which every value taken from the report is escaped (the fuzzer checks
// that no report can add markup to it).
#pragma once

#include <string>

#include "analysis.h"

namespace cyclegc::report {

std::string html_page(const Analysis& a);

}  // namespace cyclegc::report
