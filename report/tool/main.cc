// cyclegc-report: reads the reports the agent writes (report/SCHEMA.md) and answers what leaked,
// what holds it, what changed, and whether CI should fail.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli.h"
#include "cyclegc_report/output_file.h"
#include "cyclegc_report/suppressions.h"
#include "cyclegc_report/untrusted.h"

namespace cyclegc::report {
namespace {

constexpr const char* kHelpText = R"(usage: cyclegc-report COMMAND [OPTIONS] ...

commands:
  summary REPORT...          the leaks that matter first, each cycle finding with its fix:
                             cycles grouped by shape and status, allocation sites, untraced
                             holders, still reachable objects, collections; one report after
                             another (the worst status of all)
  show REPORT ID             one object (ID: a number) or cycle (ID: c<number>): edges, closing
                             edge, every member's allocation stack, what breaking it would free
  chains REPORT [ID]         referrer chains, one hop per line (--stacks adds allocation sites)
  diff OLD NEW               cycles and allocation sites that are new or grew from OLD to NEW
  dot REPORT [ID]            Graphviz of the cycles (or of one object's chain or one cycle)
  html REPORT -o FILE        one self-contained page: summary, findings, cycles drawn, stacks
  baseline write REPORT FILE remember the shapes and sites of REPORT's leaks
  baseline check REPORT FILE fail when REPORT has leaks the baseline does not know

options:
  --format=text|json         output format of summary, show and diff (default text)
  --suppressions=FILE        type:NAME, frame:TEXT or shape:FINGERPRINT lines to ignore
  --fail-on-leak             exit 1 when unsuppressed leaks remain
  --stacks                   chains: print each object's allocation site
  -o FILE                    output file (html; -: standard output)
  --help                     this text; COMMAND --help: the same
  --version                  the tool's version and the report format version it reads

exit status: 0 ok, 1 leaks found (--fail-on-leak, baseline check), 2 usage, 3 unreadable report,
4 file not readable or writable
)";

}  // namespace

absl::StatusOr<Report> load_report(const std::string& path, const Args& args, int& status) {
  auto fail = [&](int code, const std::string& message) {
    std::fprintf(stderr, "cyclegc-report: %s\n", message.c_str());
    status = code;
    return absl::InvalidArgumentError(message);
  };
  auto report = read_report_file(path);
  if (!report.ok()) {
    const bool unreadable =
        absl::IsInvalidArgument(report.status()) || absl::IsResourceExhausted(report.status());
    // Opening names the path itself; the reader's messages say only what and where.
    return fail(unreadable ? kBadReport : kIoError,
                unreadable ? absl::StrCat(printable(path), ": ", report.status().message())
                           : std::string(report.status().message()));
  }
  if (!args.suppressions.empty()) {
    auto s = load_suppressions(args.suppressions);
    if (!s.ok()) return fail(kIoError, std::string(s.status().message()));
    apply_suppressions(*s, *report);
  }
  return report;
}

int write_output(const std::string& path, std::string_view text) {
  if (path == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
      std::fprintf(stderr, "cyclegc-report: cannot write to standard output: %s\n",
                   std::strerror(errno));
      return kIoError;
    }
    return kOk;
  }
  const absl::Status s =
      write_file_atomically(path, {"", 0644, /*in_place=*/true}, [&](Sink sink) { sink(text); });
  if (s.ok()) return kOk;
  std::fprintf(stderr, "cyclegc-report: %s\n", std::string(s.message()).c_str());
  return kIoError;
}

namespace {

// Standard output, with every control byte a report could carry (an ESC that starts a terminal
// sequence, a BEL, a C1 control) written as \xNN. Labels, types and file names reach the
// terminal through summary, show, chains and dot; one filter here covers every command and every
// line, whatever it prints. Newlines and tabs are the tool's own layout and pass.
ssize_t write_escaped(void*, const char* data, std::size_t size) {
  std::string out;
  out.reserve(size);
  for (std::size_t i = 0; i < size; ++i) {
    const unsigned char c = static_cast<unsigned char>(data[i]);
    const bool c1 =
        c == 0xC2 && i + 1 < size && (static_cast<unsigned char>(data[i + 1]) & 0xE0) == 0x80;
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F || c1) {
      absl::StrAppendFormat(&out, "\\x%02x", c1 ? static_cast<unsigned char>(data[++i]) : c);
    } else {
      out += static_cast<char>(c);
    }
  }
  for (std::size_t done = 0; done < out.size();) {
    const ssize_t n = write(STDOUT_FILENO, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<ssize_t>(size);
}

void escape_standard_output() {
  if (FILE* f = fopencookie(nullptr, "w", {nullptr, write_escaped, nullptr, nullptr})) {
    std::setvbuf(f, nullptr, _IOFBF, 1 << 16);
    stdout = f;
  }
}

}  // namespace

}  // namespace cyclegc::report

int main(int argc, char** argv) {
  using namespace cyclegc::report;
  escape_standard_output();
  Args args;
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      help = true;
    } else if (a == "--version") {
      std::printf("cyclegc-report %s (report format version %d)\n", CYCLEGC_VERSION,
                  kSchemaVersion);
      return kOk;
    } else if (absl::StartsWith(a, "--format=")) {
      args.format = a.substr(9);
    } else if (a == "--format" && i + 1 < argc) {  // "--format json", as well as "--format=json"
      args.format = argv[++i];
    } else if (absl::StartsWith(a, "--suppressions=")) {
      args.suppressions = a.substr(15);
    } else if (a == "--fail-on-leak") {
      args.fail_on_leak = true;
    } else if (a == "--stacks") {
      args.stacks = true;
    } else if (a == "-o" && i + 1 < argc) {
      args.output = argv[++i];
    } else if (absl::StartsWith(a, "-") && a.size() > 1) {
      std::fprintf(stderr, "cyclegc-report: unknown option '%s' (see --help)\n", a.c_str());
      return kUsage;
    } else if (args.command.empty()) {
      args.command = a;
    } else {
      args.positional.push_back(a);
    }
  }
  if (help || args.command.empty()) {
    std::fputs(kHelpText, help ? stdout : stderr);
    return help ? kOk : kUsage;
  }
  if (args.format != "text" && args.format != "json") {
    std::fprintf(stderr, "cyclegc-report: --format must be text or json, not '%s'\n",
                 args.format.c_str());
    return kUsage;
  }
  struct Command {
    const char* name;
    int (*run)(const Args&);
    std::size_t min_args, max_args;
  };
  static constexpr Command kCommands[] = {{"summary", cmd_summary, 1, SIZE_MAX},
                                          {"show", cmd_show, 2, 2},
                                          {"chains", cmd_chains, 1, 2},
                                          {"diff", cmd_diff, 2, 2},
                                          {"dot", cmd_dot, 1, 2},
                                          {"html", cmd_html, 1, 1},
                                          {"baseline", cmd_baseline, 3, 3}};
  for (const auto& c : kCommands) {
    if (args.command != c.name) continue;
    if (args.positional.size() < c.min_args || args.positional.size() > c.max_args) {
      std::fprintf(stderr, "cyclegc-report: %s takes %zu%s argument%s (see --help)\n", c.name,
                   c.min_args, c.max_args > c.min_args ? " or more" : "",
                   c.min_args == 1 ? "" : "s");
      return kUsage;
    }
    const int status = c.run(args);
    // Output that never arrived is a failure, whatever the command found: `summary > /dev/full`
    // must not exit 0.
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      std::fprintf(stderr, "cyclegc-report: cannot write to standard output: %s\n",
                   std::strerror(errno));
      return kIoError;
    }
    return status;
  }
  std::fprintf(stderr, "cyclegc-report: unknown command '%s' (see --help)\n", args.command.c_str());
  return kUsage;
}
