// cyclegc-report's command line: the parsed arguments every subcommand receives, how reports
// are loaded, and the exit statuses, which CI scripts rely on.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cyclegc_report/report.h"

namespace cyclegc::report {

enum ExitStatus {
  kOk = 0,
  kLeaksFound = 1,    // --fail-on-leak, or baseline check, found leaks
  kUsage = 2,         // bad command line
  kBadReport = 3,     // the report is not a readable cyclegc report
  kIoError = 4,       // a file could not be read or written
  kBadInputFile = 5,  // a suppressions file is malformed
};

struct Args {
  std::string command;
  std::vector<std::string> positional;  // after the subcommand, flags removed
  std::string format = "text";          // --format=text|json
  std::string output;                   // -o FILE
  std::string suppressions;             // --suppressions=FILE
  bool fail_on_leak = false;
  bool stacks = false;  // --stacks (chains)
};

// Reads and validates a report, with the suppressions of `args` applied. On failure prints one
// line to stderr and sets `status`.
absl::StatusOr<Report> load_report(const std::string& path, const Args& args, int& status);

// Writes `text` to `path` ("-": standard output). A regular file is replaced only once the
// whole text is written (a full disk leaves the old file as it was); a device or FIFO is written
// in place. Returns kOk, or prints one line and returns kIoError.
int write_output(const std::string& path, std::string_view text);

int cmd_summary(const Args& args);
int cmd_show(const Args& args);
int cmd_chains(const Args& args);
int cmd_diff(const Args& args);
int cmd_dot(const Args& args);
int cmd_html(const Args& args);
int cmd_baseline(const Args& args);

}  // namespace cyclegc::report
