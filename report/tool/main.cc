// cyclegc-report: reads the reports the agent writes (report/SCHEMA.md) and answers what leaked,
// what holds it, what changed, and whether CI should fail.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include <unistd.h>

#include <CLI/CLI.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli.h"
#include "cyclegc_report/output_file.h"
#include "cyclegc_report/suppressions.h"
#include "cyclegc_report/untrusted.h"

namespace cyclegc::report {

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
    if (!s.ok()) {
      return fail(absl::IsInvalidArgument(s.status()) ? kBadInputFile : kIoError,
                  std::string(s.status().message()));
    }
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

namespace cyclegc::report {
namespace {

constexpr const char* kExitStatus =
    "exit status: 0 ok, 1 leaks found (--fail-on-leak, baseline check), 2 usage, 3 unreadable "
    "report, 4 file not readable or writable, 5 malformed suppressions file";

// What a subcommand takes: its arguments, in order, and the options it understands.
struct Command {
  const char* name;
  const char* help;
  int (*run)(const Args&);
  std::vector<std::pair<const char*, const char*>> required;  // name, help
  const char* optional = nullptr;                             // a last optional argument
  const char* optional_help = nullptr;
  bool many = false;      // the last required argument takes one or more values
  bool format = true;     // --format=text|json
  bool leak_gate = true;  // --fail-on-leak, --suppressions
};

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"summary",
       "the leaks that matter first, each with its fix (several reports: the worst status)",
       cmd_summary,
       {{"REPORT", "reports the agent wrote"}},
       nullptr,
       nullptr,
       true},
      {"show",
       "one object (ID: a number) or cycle (ID: c<number>): edges, fix, stacks",
       cmd_show,
       {{"REPORT", "a report"}, {"ID", "an object id or c<cycle id>"}}},
      {"chains",
       "referrer chains: how each leaked object (or ID) is held",
       cmd_chains,
       {{"REPORT", "a report"}},
       "ID",
       "one object's chain, in full"},
      {"diff",
       "cycle shapes and allocation sites new or grown from OLD to NEW",
       cmd_diff,
       {{"OLD", "the earlier report"}, {"NEW", "the later report"}}},
      {"dot",
       "Graphviz DOT of the cycles, one cycle or one object's chain",
       cmd_dot,
       {{"REPORT", "a report"}},
       "ID",
       "an object id or c<cycle id>"},
      {"html",
       "one self-contained page: findings with fixes, drawings, retainers",
       cmd_html,
       {{"REPORT", "a report"}},
       nullptr,
       nullptr,
       false,
       /*format=*/false},
  };
  return kCommands;
}

void add_leak_gate(CLI::App* app, Args& args) {
  app->add_option("--suppressions", args.suppressions,
                  "type:NAME, frame:TEXT or shape:FINGERPRINT lines to ignore");
  app->add_flag("--fail-on-leak", args.fail_on_leak, "exit 1 when unsuppressed leaks remain");
}
void add_format(CLI::App* app, Args& args) {
  app->add_option("--format", args.format, "output format (default text)")
      ->check(CLI::IsMember({"text", "json"}));
}

}  // namespace
}  // namespace cyclegc::report

int main(int argc, char** argv) {
  using namespace cyclegc::report;
  escape_standard_output();
  Args args;
  CLI::App app("cyclegc-report: reads the reports the cyclegc agent writes (report/SCHEMA.md).",
               "cyclegc-report");
  app.set_version_flag("--version", absl::StrCat("cyclegc-report ", CYCLEGC_VERSION,
                                                 " (report format version ", kSchemaVersion, ")"));
  app.footer(kExitStatus);
  app.require_subcommand(1);
  // Each subcommand's arguments land in `values`, in order, and become args.positional.
  std::vector<std::vector<std::string>> values(commands().size() + 1);
  int (*run)(const Args&) = nullptr;
  for (std::size_t k = 0; k < commands().size(); ++k) {
    const Command& c = commands()[k];
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    sub->footer(kExitStatus);
    auto& v = values[k];
    v.resize(c.required.size() + (c.optional ? 1 : 0));
    std::size_t at = 0;
    for (const auto& [name, help] : c.required) {
      const bool last_many = c.many && at + 1 == c.required.size();
      if (last_many) {
        sub->add_option(name, args.positional, help)->required()->expected(1, -1);
      } else {
        sub->add_option(name, v[at], help)->required();
      }
      ++at;
    }
    if (c.optional) sub->add_option(c.optional, v[at], c.optional_help);
    if (c.format) add_format(sub, args);
    if (c.leak_gate) add_leak_gate(sub, args);
    if (std::string(c.name) == "chains") {
      sub->add_flag("--stacks", args.stacks, "print each object's allocation site");
    }
    if (std::string(c.name) == "html") {
      sub->add_option("-o,--output", args.output, "the page's file (-: standard output)")
          ->required();
    }
    sub->callback([&args, &v, &run, c] {
      run = c.run;
      args.command = c.name;
      if (!c.many) {
        for (const auto& value : v) {
          if (!value.empty()) args.positional.push_back(value);
        }
      }
    });
  }
  // baseline write|check REPORT FILE: two subcommands of their own.
  CLI::App* baseline =
      app.add_subcommand("baseline", "remember known leaks (write), fail on new ones (check)");
  baseline->require_subcommand(1);
  baseline->footer(kExitStatus);
  std::string report, file;
  for (const auto& [action, help] :
       {std::pair{"write", "write REPORT's leaks (shapes and sites) to FILE"},
        std::pair{"check", "exit 1 when REPORT has leaks that FILE does not know"}}) {
    CLI::App* sub = baseline->add_subcommand(action, help);
    sub->add_option("REPORT", report, "a report")->required();
    sub->add_option("FILE", file, "the baseline file")->required();
    add_format(sub, args);
    sub->add_option("--suppressions", args.suppressions,
                    "type:NAME, frame:TEXT or shape:FINGERPRINT lines to ignore");
    sub->callback([&, action = std::string(action)] {
      run = cmd_baseline;
      args.command = "baseline";
      args.positional = {action, report, file};
    });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "cyclegc-report: %s (see --help)\n", printable(e.what()).c_str());
    return kUsage;
  }
  const int status = run(args);
  // Output that never arrived is a failure, whatever the command found: `summary > /dev/full`
  // must not exit 0.
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
    std::fprintf(stderr, "cyclegc-report: cannot write to standard output: %s\n",
                 std::strerror(errno));
    return kIoError;
  }
  return status;
}
