// html: the command that writes html_page() to the file named by -o.
#include "analysis.h"
#include "cli.h"
#include "html_page.h"

namespace cyclegc::report {

int cmd_html(const Args& args) {
  if (args.output.empty()) {
    std::fprintf(stderr, "cyclegc-report: html needs -o FILE\n");
    return kUsage;
  }
  int status = kOk;
  auto report = load_report(args.positional[0], args, status);
  if (!report.ok()) return status;
  return write_output(args.output, html_page(Analysis(*report)));
}

}  // namespace cyclegc::report
