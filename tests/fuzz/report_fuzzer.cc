// libFuzzer target for everything cyclegc-report reads from files: the report reader, the
// suppressions parser, and the tool's analysis of whatever the reader accepts. None may crash,
// hang or read out of bounds on any input; an accepted report must also survive a round trip.
#include <cstddef>
#include <cstdint>
#include <string>

#include "../../report/tool/analysis.h"
#include "cyclegc_report/report.h"
#include "cyclegc_report/suppressions.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto report = cyclegc::report::from_json(text);
  if (report.ok()) {
    auto again = cyclegc::report::from_json(cyclegc::report::to_json(*report));
    if (!again.ok()) __builtin_trap();  // what we write we must be able to read
    cyclegc::report::apply_suppressions({{"T"}, {"f"}, {"0"}}, *report);
    // And what cyclegc-report computes from an accepted report.
    cyclegc::report::Analysis a(*report);
    (void)a.shapes();
    (void)a.sites();
    for (const auto& c : report->cycles) (void)a.freed_by_breaking(c);
    for (int id : a.leaked()) (void)a.site_of(a.object(id));
  }
  (void)cyclegc::report::parse_suppressions(text);
  return 0;
}
