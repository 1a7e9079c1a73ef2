#include "options.h"

#include "cyclegc_report/untrusted.h"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <vector>

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
  const std::string v = absl::AsciiStrToLower(value);
  if (v == "1" || v == "true" || v == "yes") {
    out = true;
  } else if (v == "0" || v == "false" || v == "no") {
    out = false;
  } else {
    return false;
  }
  return true;
}

constexpr const char* kDebugWords[] = {"stats", "collectable", "uncollectable", "saveall", "leak"};

bool parse_debug(absl::string_view value, int& out) {
  int flags = 0;
  for (absl::string_view word : absl::StrSplit(value, '+', absl::SkipEmpty())) {
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
     [](Options& o, absl::string_view v, std::string&) { return parse_bool(v, o.help); },
     "0/1, true/false or yes/no"},
    {"debug",
     "collector debug flags, as CPython's gc.set_debug: stats, collectable, uncollectable, "
     "saveall, leak, joined with '+' (default none)",
     [](Options& o, absl::string_view v, std::string&) { return parse_debug(v, o.debug_flags); },
     "stats, collectable, uncollectable, saveall or leak, joined with '+'"},
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
    {"exitcode",
     "exit status when leaks were found, e.g. 23 as LeakSanitizer's; 0 keeps the program's own "
     "(default 0: a diagnosis does not change what the program does)",
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
     "0/1, true/false or yes/no"},
    {"shared_ptr",
     "in a program that does not use libcyclegc, track the heap (malloc, free, ...) and report "
     "the std::shared_ptr cycles it leaks (default 1)",
     [](Options& o, absl::string_view v, std::string&) { return parse_bool(v, o.shared_ptr); },
     "0/1, true/false or yes/no"},
    {"verbosity",
     "1 also says why the agent stays idle in a process (default 0: silent where cyclegc is "
     "not used)",
     [](Options& o, absl::string_view v, std::string&) { return parse_int(v, 0, 2, o.verbosity); },
     "0, 1 or 2"},
};

// Options as the sanitizers split them: ':', ',' or white space between them, and a value in
// quotes ('...' or "...") may hold any of those.
struct Item {
  absl::string_view text;  // as typed, for warnings
  absl::string_view key;
  absl::string_view value;
  bool has_value = false;
  bool unclosed_quote = false;
};

bool is_separator(char c) { return c == ':' || c == ',' || absl::ascii_isspace(c); }

std::vector<Item> split_items(absl::string_view text) {
  std::vector<Item> items;
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    if (is_separator(text[i])) {
      ++i;
      continue;
    }
    const std::size_t start = i;
    Item item;
    while (i < n && text[i] != '=' && !is_separator(text[i])) ++i;
    item.key = text.substr(start, i - start);
    if (i < n && text[i] == '=') {
      item.has_value = true;
      ++i;
      if (i < n && (text[i] == '\'' || text[i] == '"')) {
        const std::size_t close = text.find(text[i], i + 1);
        item.unclosed_quote = close == absl::string_view::npos;
        const std::size_t end = item.unclosed_quote ? n : close;
        item.value = text.substr(i + 1, end - i - 1);
        i = item.unclosed_quote ? n : close + 1;
      } else {
        const std::size_t value_start = i;
        while (i < n && !is_separator(text[i])) ++i;
        item.value = text.substr(value_start, i - value_start);
      }
    }
    item.text = text.substr(start, i - start);
    items.push_back(item);
  }
  return items;
}

// Levenshtein distance, for "did you mean": names are short, so the table is too.
std::size_t edit_distance(absl::string_view a, absl::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

// What an unknown name was probably meant to be, as a clause of its warning ("" if nothing).
std::string suggestion(absl::string_view key) {
  for (const char* word : kDebugWords) {
    if (key == word) {
      return absl::StrCat("; did you mean debug=...+", word,
                          "? (',' separates options, '+' joins debug flags)");
    }
  }
  const OptionSpec* best = nullptr;
  std::size_t best_distance = 3;  // at most two edits, and fewer than half the name
  const std::string lower = absl::AsciiStrToLower(key);
  for (const auto& s : kSpecs) {
    const std::size_t d = edit_distance(lower, s.name);
    if (d < best_distance && 2 * d < std::strlen(s.name)) {
      best = &s;
      best_distance = d;
    }
  }
  return best ? absl::StrCat("; did you mean '", best->name, "'?") : "";
}

}  // namespace

ParsedOptions parse_options(absl::string_view text) {
  ParsedOptions result;
  for (const Item& item : split_items(text)) {
    const OptionSpec* spec = nullptr;
    for (const auto& s : kSpecs) {
      if (item.key == s.name) spec = &s;
    }
    if (!spec) {
      result.warnings.push_back(absl::StrCat("cyclegc: ignoring unknown option '",
                                             printable(item.text), "'", suggestion(item.key),
                                             " (CYCLEGC_OPTIONS=help=1 lists them)"));
      continue;
    }
    std::string why;
    if (item.unclosed_quote) {
      why = "its value has an unclosed quote";
    } else if (item.has_value && spec->apply(result.options, item.value, why)) {
      continue;
    }
    if (why.empty()) why = absl::StrCat(item.key, " takes ", spec->expected);
    result.warnings.push_back(absl::StrCat("cyclegc: ignoring option '", printable(item.text),
                                           "': ", why, "; keeping the default"));
  }
  return result;
}

std::string options_help() {
  std::string out =
      "cyclegc agent options (CYCLEGC_OPTIONS=key=value:key=value; ',' or a space also "
      "separates them, and a value in quotes may hold any of them):\n";
  for (const auto& s : kSpecs) absl::StrAppend(&out, "  ", s.name, "\t", s.help, "\n");
  return out;
}

std::string expand_report_path(const std::string& pattern, int pid, int sequence) {
  return absl::StrReplaceAll(pattern, {{"%p", absl::StrCat(pid)}, {"%n", absl::StrCat(sequence)}});
}

}  // namespace cyclegc::agent
