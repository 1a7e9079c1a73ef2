#include "leak_summary.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace cyclegc::agent {

std::string executable() {
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}

namespace {

// " allocated at add_child (leaky_tree.cc:25)" (the report keeps the whole signature).
std::string where(const report::Report& r, const report::Object& o) {
  if (o.stack < 0 || r.stacks[o.stack].frames.empty()) return "";
  return " allocated at " + report::site_text(r.stacks[o.stack].frames.front());
}

// "cyclegc: 102050 objects still reachable at the program's end, not leaks: 102000 from main
// thread, 50 from g_sessions" — the largest holders first.
std::string still_reachable_line(const report::Report& r) {
  const auto [groups, total] = report::still_reachable_totals(r);
  std::string text = absl::StrCat("cyclegc: ", total,
                                  " objects still reachable at the program's end, not leaks: ");
  constexpr std::size_t kNamed = 5;
  for (std::size_t i = 0; i < groups.size() && i < kNamed; ++i) {
    absl::StrAppend(&text, i ? ", " : "", groups[i]->count, " from ", groups[i]->holder);
  }
  if (groups.size() > kNamed) absl::StrAppend(&text, ", and ", groups.size() - kNamed, " more");
  return text;
}

}  // namespace

// What CPython prints per object, with the allocation site added; then the totals.
std::size_t print_summary(const report::Report& r, const std::string& path, bool print) {
  std::size_t shown = 0, suppressed = 0;
  absl::flat_hash_map<int, const report::Object*> by_id;
  for (const auto& o : r.objects) by_id[o.id] = &o;
  // Every count is of unsuppressed objects, as cyclegc-report counts them.
  auto list = [&](const std::vector<int>& ids, std::string what) {
    std::size_t counted = 0;
    for (int id : ids) {
      const report::Object& o = *by_id[id];
      if (o.suppressed) {
        ++suppressed;
        continue;
      }
      ++counted;
      if (!print || shown++ >= 20) continue;
      std::string said = what;
      if (said.empty()) {
        said = absl::StrCat("held by ", o.untraced_refs, " untraced reference",
                            o.untraced_refs == 1 ? ":" : "s:");
      }
      // A type without a repr() is labelled "<Type 0x...>", which the line already says.
      const std::string identity = absl::StrCat("<", o.type, " ", o.address, ">");
      const std::string label = o.label == identity ? "" : " " + o.label;
      std::fprintf(stderr, "cyclegc: %s %s%s%s\n", said.c_str(), identity.c_str(), label.c_str(),
                   where(r, o).c_str());
    }
    return counted;
  };
  const std::size_t saved = list(r.saved_garbage, "garbage");
  const std::size_t collectable = list(r.collectable, "collectable");
  const std::size_t uncollectable = list(r.uncollectable, "uncollectable");
  const std::size_t untraced = list(r.untraced, "");
  // A shared_ptr heap's leaks are all held only by leaked objects: its cycles and what hangs off
  // them (heap_scan.h).
  const bool shared_ptr_heap = report::from_shared_ptr_heap(r);
  const std::size_t kept = list(
      r.held_by_leaks, shared_ptr_heap ? "leaked std::shared_ptr object" : "kept alive by leaks:");
  const std::size_t leaks = saved + collectable + uncollectable + untraced + kept;
  if (print) {
    std::size_t cycles = 0;
    for (const auto& c : r.cycles) {
      cycles += std::any_of(c.members.begin(), c.members.end(),
                            [&](int m) { return !by_id[m]->suppressed; });
    }
    const std::string kept_text =
        kept ? absl::StrCat(", ", kept, " kept alive by leaked objects") : "";
    const std::string suppressed_text =
        suppressed ? absl::StrCat("; ", suppressed, " suppressed") : "";
    if (shared_ptr_heap) {
      const std::string found =
          leaks == 0 ? "no leaked std::shared_ptr cycles"
                     : absl::StrCat(leaks, " leaked std::shared_ptr object", leaks == 1 ? "" : "s",
                                    " (", cycles, cycles == 1 ? " cycle)" : " cycles)");
      std::fprintf(stderr, "cyclegc: %s%s%s%s\n", found.c_str(), suppressed_text.c_str(),
                   path.empty() ? "" : "; report: ", path.c_str());
      return leaks;
    }
    std::fprintf(stderr,
                 "cyclegc: %zu leaked objects (%zu cycles): %zu collectable, %zu saved garbage, "
                 "%zu uncollectable, %zu held by untraced references%s%s%s%s\n",
                 leaks, cycles, collectable, saved, uncollectable, untraced, kept_text.c_str(),
                 suppressed_text.c_str(), path.empty() ? "" : "; report: ", path.c_str());
    if (!r.still_reachable.empty()) std::fprintf(stderr, "%s\n", still_reachable_line(r).c_str());
  }
  return leaks;
}

}  // namespace cyclegc::agent
