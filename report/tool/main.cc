// cyclegc-report: reads the reports the agent writes (report/SCHEMA.md) and answers what leaked,
// what holds it, what changed, and whether CI should fail.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli.h"
#include "cyclegc_report/suppressions.h"
#include "cyclegc_report/untrusted.h"

namespace cyclegc::report {
namespace {

constexpr const char* kHelpText = R"(usage: cyclegc-report COMMAND [OPTIONS] ...

commands:
  summary REPORT             the leaks that matter first: cycles grouped by shape, allocation
                             sites, untraced holders, uncollectable and saved garbage, collections
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
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "cyclegc-report: cannot write '%s': %s\n", printable(path).c_str(),
                 what.c_str());
    return kIoError;
  };
  if (path == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
        std::fflush(stdout) != 0) {
      return fail(std::strerror(errno));
    }
    return kOk;
  }
  struct stat st {};
  const bool in_place = stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  const std::string target = in_place ? path : absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(target.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (in_place ? 0 : O_EXCL), 0644);
  if (fd < 0) return fail(std::strerror(errno));
  int error = 0;
  for (std::size_t done = 0; error == 0 && done < text.size();) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) error = n < 0 ? errno : ENOSPC;
    if (n > 0) done += static_cast<std::size_t>(n);
  }
  if (close(fd) != 0 && error == 0) error = errno;
  if (error == 0 && !in_place && rename(target.c_str(), path.c_str()) != 0) error = errno;
  if (error != 0) {
    if (!in_place) unlink(target.c_str());
    return fail(std::strerror(error));
  }
  return kOk;
}

}  // namespace cyclegc::report

int main(int argc, char** argv) {
  using namespace cyclegc::report;
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
  static constexpr Command kCommands[] = {{"summary", cmd_summary, 1, 1},  {"show", cmd_show, 2, 2},
                                          {"chains", cmd_chains, 1, 2},    {"diff", cmd_diff, 2, 2},
                                          {"dot", cmd_dot, 1, 2},          {"html", cmd_html, 1, 1},
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
