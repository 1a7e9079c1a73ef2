#include "options.h"

#include "cyclegc_report/untrusted.h"

#include <csignal>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "cyclegc/gc.h"

namespace cyclegc::agent {
namespace {

using report::printable;

// One entry per option: its name, its help line, and how to apply a value (false: invalid,
// with `expected` describing what would have been valid).
struct OptionSpec {
  const char* name;
  const char* help;
  // Sets the option; on false, `why` may say what is wrong with the value (otherwise the
  // warning says what the option takes).
  bool (*apply)(Options& o, absl::string_view value, std::string& why);
  const char* expected;
};

bool parse_int(absl::string_view value, int lo, int hi, int& out) {
  int v;
  if (!absl::SimpleAtoi(value, &v) || v < lo || v > hi) return false;
  out = v;
  return true;
}

bool parse_bool(absl::string_view value, bool& out) {
  if (value == "1" || value == "true") {
    out = true;
  } else if (value == "0" || value == "false") {
    out = false;
  } else {
    return false;
  }
  return true;
}

bool parse_debug(absl::string_view value, int& out) {
  int flags = 0;
  for (absl::string_view word : absl::StrSplit(value, absl::ByAnyChar(",+"), absl::SkipEmpty())) {
    if (word == "stats") {
      flags |= DEBUG_STATS;
    } else if (word == "collectable") {
      flags |= DEBUG_COLLECTABLE;
    } else if (word == "uncollectable") {
      flags |= DEBUG_UNCOLLECTABLE;
    } else if (word == "saveall") {
      flags |= DEBUG_SAVEALL;
    } else if (word == "leak") {
      flags |= DEBUG_LEAK;
    } else if (word != "none") {
      return false;
    }
  }
  out = flags;
  return true;
}

// The signals a report may be asked with: ones whose default action the program does not
// rely on to end or stop, that can be caught, and that no runtime reserves. Anything else is
// refused with the reason (parse_signal). Real-time signals from SIGRTMIN on are free too.
constexpr std::pair<const char*, int> kDumpSignals[] = {{"USR1", SIGUSR1},   {"USR2", SIGUSR2},
                                                        {"HUP", SIGHUP},     {"PROF", SIGPROF},
                                                        {"WINCH", SIGWINCH}, {"URG", SIGURG}};

// Why `number` cannot be a dump signal, or null when it can.
const char* refusal(int number) {
  switch (number) {
    case SIGSEGV:
    case SIGBUS:
    case SIGFPE:
    case SIGILL:
    case SIGTRAP:
    case SIGSYS:
      return "a fault: a handler that returns runs the faulting instruction again";
    case SIGABRT:
      return "abort() and failed assertions must end the program";
    case SIGPIPE:
      return "a write to a closed pipe must end the program as it expects";
    case SIGKILL:
    case SIGSTOP:
      return "it cannot be caught";
    case SIGINT:
    case SIGTERM:
    case SIGQUIT:
    case SIGALRM:
    case SIGVTALRM:
    case SIGXCPU:
    case SIGXFSZ:
      return "it must still end the program";
    case SIGCHLD:
    case SIGCONT:
    case SIGTSTP:
    case SIGTTIN:
    case SIGTTOU:
      return "job control and child processes depend on it";
  }
  for (auto [name, n] : kDumpSignals) {
    if (n == number) return nullptr;
  }
  if (number >= SIGRTMIN && number <= SIGRTMAX) return nullptr;
  if (number > SIGSYS && number < SIGRTMIN) return "the C library's threads reserve it";
  return "it is not a signal";
}

bool parse_signal(absl::string_view value, int& out, std::string& why) {
  int number = -1;
  if (int parsed; absl::SimpleAtoi(value, &parsed)) {
    number = parsed;
  } else {
    std::string name = absl::AsciiStrToUpper(value);
    if (absl::StartsWith(name, "SIG")) name = name.substr(3);
    for (int n = 1; n < NSIG && number < 0; ++n) {
      if (const char* abbrev = sigabbrev_np(n); abbrev && name == abbrev) number = n;
    }
    if (number < 0) return false;
  }
  if (number == 0) {
    out = 0;
    return true;
  }
  if (const char* reason = refusal(number)) {
    const char* abbrev = number > 0 && number < NSIG ? sigabbrev_np(number) : nullptr;
    why = abbrev ? absl::StrCat("SIG", abbrev, " is refused: ", reason)
                 : absl::StrCat("signal ", number, " is refused: ", reason);
    return false;
  }
  out = number;
  return true;
}

const OptionSpec kSpecs[] = {
    {"help", "print this list and continue (default 0)",
     [](Options& o, absl::string_view v, std::string&) { return parse_bool(v, o.help); }, "0 or 1"},
    {"debug",
     "collector debug flags, as CPython's gc.set_debug: stats, collectable, uncollectable, "
     "saveall, leak, joined with ',' or '+' (default none)",
     [](Options& o, absl::string_view v, std::string&) { return parse_debug(v, o.debug_flags); },
     "a list of stats, collectable, uncollectable, saveall, leak"},
    {"report_path",
     "where the JSON report goes; %p is the process id, %n the report's number (0, 1, ...); "
     "none writes no file (default cyclegc.%p.json in the working directory)",
     [](Options& o, absl::string_view v, std::string&) {
       if (v.empty()) return false;
       o.report_path = std::string(v);
       return true;
     },
     "a file path"},
    {"stack_depth", "allocation stack frames recorded per object, 0 for none (default 16)",
     [](Options& o, absl::string_view v, std::string&) {
       return parse_int(v, 0, 64, o.stack_depth);
     },
     "an integer in [0, 64]"},
    {"dump_signal", "write a report when this signal arrives, e.g. SIGUSR1 (default none)",
     [](Options& o, absl::string_view v, std::string& why) {
       return parse_signal(v, o.dump_signal, why);
     },
     "USR1, USR2, HUP, PROF, WINCH, URG or a real-time signal's number"},
    {"interval_ms", "write a report every this many milliseconds, 0 for never (default 0)",
     [](Options& o, absl::string_view v, std::string&) {
       return parse_int(v, 0, 86'400'000, o.interval_ms);
     },
     "an integer in [0, 86400000]"},
    {"exitcode", "exit status when leaks were found, 0 to keep the program's own (default 0)",
     [](Options& o, absl::string_view v, std::string&) { return parse_int(v, 0, 255, o.exitcode); },
     "an integer in [0, 255]"},
    {"suppressions", "file of suppression lines: type:NAME, frame:TEXT or shape:FINGERPRINT",
     [](Options& o, absl::string_view v, std::string&) {
       o.suppressions = std::string(v);
       return true;
     },
     "a file path"},
    {"summary", "print a text summary on stderr at exit (default 1)",
     [](Options& o, absl::string_view v, std::string&) { return parse_bool(v, o.summary); },
     "0 or 1"},
    {"verbosity",
     "1 also says why the agent stays idle in a process (default 0: silent where cyclegc is "
     "not used)",
     [](Options& o, absl::string_view v, std::string&) { return parse_int(v, 0, 2, o.verbosity); },
     "0, 1 or 2"},
};

}  // namespace

ParsedOptions parse_options(absl::string_view text) {
  ParsedOptions result;
  for (absl::string_view item : absl::StrSplit(text, ':', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    const std::size_t eq = item.find('=');
    const absl::string_view key = item.substr(0, eq);
    const absl::string_view value = eq == absl::string_view::npos ? "" : item.substr(eq + 1);
    const OptionSpec* spec = nullptr;
    for (const auto& s : kSpecs) {
      if (key == s.name) spec = &s;
    }
    if (!spec) {
      result.warnings.push_back(absl::StrCat("cyclegc: ignoring unknown option '", printable(item),
                                             "' (CYCLEGC_OPTIONS=help=1 lists them)"));
    } else if (std::string why;
               eq == absl::string_view::npos || !spec->apply(result.options, value, why)) {
      if (why.empty()) why = absl::StrCat(key, " takes ", spec->expected);
      result.warnings.push_back(absl::StrCat("cyclegc: ignoring option '", printable(item),
                                             "': ", why, "; keeping the default"));
    }
  }
  return result;
}

std::string options_help() {
  std::string out = "cyclegc agent options (CYCLEGC_OPTIONS=key=value:key=value):\n";
  for (const auto& s : kSpecs) absl::StrAppend(&out, "  ", s.name, "\t", s.help, "\n");
  return out;
}

std::string expand_report_path(const std::string& pattern, int pid, int sequence) {
  return absl::StrReplaceAll(pattern, {{"%p", absl::StrCat(pid)}, {"%n", absl::StrCat(sequence)}});
}

}  // namespace cyclegc::agent
