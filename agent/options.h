// CYCLEGC_OPTIONS: the agent's configuration, in the sanitizers' form (`key=value`, separated by
// ':', ',' or spaces). Parsing never fails: a malformed or unknown option yields one warning naming
// it, and the default stays in force, because the agent must never stop its host from running.
#pragma once

#include <string>
#include <vector>
#include "absl/strings/string_view.h"

namespace cyclegc::agent {

struct Options {
  bool help = false;
  int debug_flags = 0;                          // DEBUG_* flags from debug=stats+collectable+...
  std::string report_path = "cyclegc.%p.json";  // %p: process id, %n: report number; "none"
  int stack_depth = 16;                         // frames kept per allocation; 0: no stacks
  int dump_signal = 0;                          // write a report on this signal; 0: none
  int interval_ms = 0;                          // write a report this often; 0: never
  int exitcode = 0;                             // exit status when leaks were found; 0: keep
  std::string suppressions;                     // file of suppression lines
  bool summary = true;                          // a short text summary on stderr at exit
  int verbosity = 0;                            // 1: say why the agent stays idle
  // In a process that does not load libcyclegc.so: track heap blocks (the malloc family) and
  // report the std::shared_ptr cycles among them (heap_hooks.cc).
  bool shared_ptr = true;
};

struct ParsedOptions {
  Options options;
  std::vector<std::string> warnings;  // one line each, ready to print
};

ParsedOptions parse_options(absl::string_view text);
// Every option with its meaning and default, for help=1.
std::string options_help();
// report_path with %p replaced by `pid` and %n by the report's sequence number.
std::string expand_report_path(const std::string& pattern, int pid, int sequence);

}  // namespace cyclegc::agent
