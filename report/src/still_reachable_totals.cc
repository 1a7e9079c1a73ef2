// What the program still held at its end, as every reader of a report shows it (report.h).
#include <algorithm>
#include <cstdint>

#include "cyclegc_report/report.h"

namespace cyclegc::report {

StillReachableTotals still_reachable_totals(const Report& r) {
  StillReachableTotals t;
  for (const auto& g : r.still_reachable) {
    t.largest_first.push_back(&g);
    // Saturating: a hostile report's counts near the cap must not wrap round to a small total.
    t.objects = g.count > UINT64_MAX - t.objects ? UINT64_MAX : t.objects + g.count;
  }
  std::stable_sort(t.largest_first.begin(), t.largest_first.end(),
                   [](const auto* a, const auto* b) { return a->count > b->count; });
  return t;
}

}  // namespace cyclegc::report
