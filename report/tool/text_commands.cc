// summary, show and chains: reading one report.
#include <algorithm>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "analysis.h"
#include "cli.h"
#include "json_views.h"

namespace cyclegc::report {
namespace {

using nlohmann::json;

std::string plural(std::uint64_t n, const char* word) {
  return absl::StrCat(n, " ", word, n == 1 ? "" : "s");
}

int leak_status(const Args& args, const Analysis& a) {
  return args.fail_on_leak && !a.leaked().empty() ? kLeaksFound : kOk;
}

}  // namespace

// One report's summary: printed as text, or added to `out` as JSON.
int summarize(const std::string& path, const Args& args, json* out) {
  int status = kOk;
  auto report = load_report(path, args, status);
  if (!report.ok()) return status;
  const Report& r = *report;
  Analysis a(r);
  const auto shapes = a.shapes();
  const auto sites = a.sites();
  std::map<std::string, int> triggers;
  std::uint64_t collected = 0, uncollectable = 0;
  for (const auto& c : r.collections) {
    ++triggers[c.trigger];
    collected += c.collected;
    uncollectable += c.uncollectable;
  }

  if (out) {
    json& j = *out;
    j["report"] = path;
    j["leaked_objects"] = a.leaked().size();
    j["shapes"] = json::array();
    for (const auto& f : shapes) {
      const Cycle& example = r.cycles[f.cycles.front()];
      j["shapes"].push_back({{"shape", f.shape},
                             {"status", f.status},
                             {"fix", fixes_json(a.fix_hints(f))},
                             {"cycles", f.cycles.size()},
                             {"objects", f.objects},
                             {"bytes", f.bytes},
                             {"suppressed", f.suppressed},
                             {"example", example.id},
                             {"closing_edge", a.describe(example.closing_edge)}});
    }
    j["sites"] = json::array();
    for (const auto& s : sites) {
      j["sites"].push_back(
          {{"type", s.type}, {"site", s.site}, {"objects", s.objects}, {"bytes", s.bytes}});
    }
    j["untraced"] = r.untraced;
    j["held_by_leaks"] = r.held_by_leaks;
    j["still_reachable"] = json::array();
    const StillReachableTotals held = still_reachable_totals(r);
    for (const auto* g : held.largest_first) {
      j["still_reachable"].push_back(
          {{"kind", g->kind}, {"holder", g->holder}, {"objects", g->count}, {"bytes", g->bytes}});
    }
    j["uncollectable"] = r.uncollectable;
    j["saved_garbage"] = r.saved_garbage;
    j["collections"] = r.collections.size();
    return leak_status(args, a);
  }

  std::printf("cyclegc report %s: pid %d, %s, %s; stacks by %s\n", path.c_str(), r.process.pid,
              r.process.reason.c_str(), r.process.time.c_str(), r.process.stack_method.c_str());
  std::printf("%s leaked\n", plural(a.leaked().size(), "object").c_str());
  if (!shapes.empty()) {
    std::printf("\nCycles by shape:\n");
    int n = 0;
    for (const auto& f : shapes) {
      const Cycle& example = r.cycles[f.cycles.front()];
      std::printf("  #%d %zu x cycle of %s — %s, %s, %s%s  [shape %s]\n", ++n, f.cycles.size(),
                  member_types(a, example).c_str(), plural(f.objects, "object").c_str(),
                  plural(f.bytes, "byte").c_str(), f.status.c_str(),
                  f.suppressed ? " (suppressed)" : "", f.shape.c_str());
      if (const std::string fix = fixes_line(a.fix_hints(f), weak_kind(a.report())); !fix.empty()) {
        std::printf("     fix: %s\n", fix.c_str());
      }
      std::printf("     edges: %s\n", shape_text(a, example).c_str());
      std::printf("     closing edge: %s\n", a.describe(example.closing_edge).c_str());
      std::printf("     example: c%d, allocated at %s\n", example.id,
                  a.site_of(a.object(example.members.front())).c_str());
    }
  }
  if (!sites.empty()) {
    std::printf("\nLeaked objects by allocation site:\n");
    for (const auto& s : sites) {
      std::printf("  %6llu x %s at %s (%s)\n", static_cast<unsigned long long>(s.objects),
                  s.type.c_str(), s.site.c_str(), plural(s.bytes, "byte").c_str());
    }
  }
  if (!r.untraced.empty()) {
    std::printf("\nHeld by untraced references (lambdas, std::function, untracked objects):\n");
    for (const HolderFinding& f : a.holders()) {
      const Object& example = a.object(f.objects.front());
      if (f.objects.size() == 1) {
        std::printf("  %s held by %u, allocated at %s%s\n", example.label.c_str(),
                    example.untraced_refs, f.site.c_str(), f.suppressed ? " (suppressed)" : "");
      } else {
        std::printf("  %zu x %s held by untraced references, allocated at %s (%s; e.g. %s)%s\n",
                    f.objects.size(), f.type.c_str(), f.site.c_str(),
                    plural(f.bytes, "byte").c_str(), example.label.c_str(),
                    f.suppressed ? " (suppressed)" : "");
      }
    }
  }
  // A std::shared_ptr heap's report has no collector behind it: every leak there is kept alive
  // only by leaked objects, and it has no collections, garbage or uncollectable objects to count.
  const bool collector = !from_shared_ptr_heap(r);
  if (!r.held_by_leaks.empty() && collector) {
    std::printf("\nKept alive only by leaked objects: %s (their sites are listed above)\n",
                plural(r.held_by_leaks.size(), "object").c_str());
  }
  if (!r.still_reachable.empty()) {
    const auto [groups, total] = still_reachable_totals(r);
    std::printf("\nStill reachable at the program's end, not leaks: %s\n",
                plural(total, "object").c_str());
    for (const auto* g : groups) {
      std::printf("  %6llu from %s (%s, %s)\n", static_cast<unsigned long long>(g->count),
                  g->holder.c_str(), g->kind.c_str(), plural(g->bytes, "byte").c_str());
    }
  }
  if (!collector) return leak_status(args, a);
  std::printf("\nUncollectable: %zu; saved garbage: %zu\n", r.uncollectable.size(),
              r.saved_garbage.size());
  std::vector<std::string> by_trigger;
  for (const auto& [t, n] : triggers) by_trigger.push_back(absl::StrCat(t, " ", n));
  std::printf("Collections: %zu (%s); %llu collected, %llu uncollectable\n", r.collections.size(),
              absl::StrJoin(by_trigger, ", ").c_str(), static_cast<unsigned long long>(collected),
              static_cast<unsigned long long>(uncollectable));
  return leak_status(args, a);
}

int cmd_summary(const Args& args) {
  // Each report in turn (`summary cyclegc.*.json`); the worst status of all.
  int status = kOk;
  json all = json::array();
  for (std::size_t i = 0; i < args.positional.size(); ++i) {
    json one;
    if (args.format != "json" && i > 0) std::printf("\n");
    status = std::max(status,
                      summarize(args.positional[i], args, args.format == "json" ? &one : nullptr));
    if (args.format == "json" && !one.is_null()) all.push_back(std::move(one));
  }
  if (args.format == "json") {
    const json& shown = args.positional.size() == 1 && !all.empty() ? all[0] : all;
    std::printf("%s\n", shown.dump(1).c_str());
  }
  return status;
}

int cmd_show(const Args& args) {
  int status = kOk;
  auto report = load_report(args.positional[0], args, status);
  if (!report.ok()) return status;
  const Report& r = *report;
  Analysis a(r);
  const auto target = a.target(args.positional[1], /*cycles_allowed=*/true);
  if (!target) return kUsage;
  const bool as_json = args.format == "json";
  auto print_stack = [&](const Object& o, const char* indent) {
    if (o.stack < 0) {
      std::printf("%sno allocation stack\n", indent);
      return;
    }
    for (const Frame& f : r.stacks[o.stack].frames) {
      std::printf("%s%s at %s:%d\n", indent, readable_signature(f.function).c_str(), f.file.c_str(),
                  f.line);
    }
  };
  if (!target->is_cycle) {
    const Object& o = a.object(target->id);
    std::vector<int> cycles;
    for (const Cycle& c : r.cycles) {
      if (std::count(c.members.begin(), c.members.end(), o.id)) cycles.push_back(c.id);
    }
    if (as_json) {
      json out = json::array(), in = json::array();
      for (const Edge& e : r.edges) {
        if (e.from == o.id) out.push_back(edge_json(a, e));
        if (e.to == o.id) in.push_back(edge_json(a, e));
      }
      const json j = {{"object", o.id},
                      {"type", o.type},
                      {"label", o.label},
                      {"address", o.address},
                      {"size", o.size},
                      {"refcount", o.refcount},
                      {"untraced_refs", o.untraced_refs},
                      {"suppressed", o.suppressed},
                      {"allocated_at", stack_json(r, o)},
                      {"edges_out", out},
                      {"edges_in", in},
                      {"cycles", cycles}};
      std::printf("%s\n", j.dump(1).c_str());
      return leak_status(args, a);
    }
    std::printf("%s <%s %s>, %s, refcount %u, %u untraced%s\n", o.label.c_str(), o.type.c_str(),
                o.address.c_str(), plural(o.size, "byte").c_str(), o.refcount, o.untraced_refs,
                o.suppressed ? ", suppressed" : "");
    std::printf("allocated at:\n");
    print_stack(o, "  ");
    for (const Edge& e : r.edges) {
      if (e.from == o.id) std::printf("  -> %s\n", a.describe(e).c_str());
      if (e.to == o.id) std::printf("  <- %s\n", a.describe(e).c_str());
    }
    for (int c : cycles)
      std::printf("member of cycle c%d (cyclegc-report show REPORT c%d)\n", c, c);
    return leak_status(args, a);
  }
  const Cycle& c = r.cycles[target->id];
  const Freed freed = a.freed_by_breaking(c);
  ShapeFinding alone;
  alone.shape = c.shape;
  alone.cycles = {c.id};
  const auto hints = a.fix_hints(alone);
  if (as_json) {
    json edges = json::array(), members = json::array();
    for (const Edge& e : c.edges) edges.push_back(edge_json(a, e));
    for (int m : c.members) {
      const Object& o = a.object(m);
      members.push_back({{"object", m},
                         {"type", o.type},
                         {"label", o.label},
                         {"size", o.size},
                         {"allocated_at", stack_json(r, o)}});
    }
    const json j = {
        {"cycle", c.id},
        {"shape", c.shape},
        {"members_by_type", member_types(a, c)},
        {"fixes", fixes_json(hints)},
        {"edges", edges},
        {"closing_edge", edge_json(a, c.closing_edge)},
        {"breaking_it_frees", {{"objects", freed.objects.size()}, {"bytes", freed.bytes}}},
        {"members", members}};
    std::printf("%s\n", j.dump(1).c_str());
    return leak_status(args, a);
  }
  std::printf("cycle c%d: %s, shape %s\n", c.id, member_types(a, c).c_str(), c.shape.c_str());
  if (const std::string fix = fixes_line(hints, weak_kind(a.report())); !fix.empty()) {
    std::printf("fix: %s\n", fix.c_str());
  }
  std::printf("edges:\n");
  for (const Edge& e : c.edges) std::printf("  %s\n", a.describe(e).c_str());
  std::printf("closing edge: %s\n", a.describe(c.closing_edge).c_str());
  std::printf("breaking it frees %s (%s)\n", plural(freed.objects.size(), "object").c_str(),
              plural(freed.bytes, "byte").c_str());
  std::printf("members:\n");
  for (int m : c.members) {
    std::printf("  %d %s\n", m, a.describe(m).c_str());
    print_stack(a.object(m), "      ");
  }
  return leak_status(args, a);
}

int cmd_chains(const Args& args) {
  int status = kOk;
  auto report = load_report(args.positional[0], args, status);
  if (!report.ok()) return status;
  const Report& r = *report;
  Analysis a(r);
  std::vector<int> ids;
  if (args.positional.size() == 2) {
    const auto target = a.target(args.positional[1], /*cycles_allowed=*/false);
    if (!target) return kUsage;
    ids.push_back(target->id);
  } else {
    ids = a.leaked();
  }
  // Listing every leak, a chain shows its last kListedHops hops: a long tail's chains, in full,
  // would grow with the square of its length.
  constexpr std::size_t kListedHops = 8;
  const std::size_t max_hops = ids.size() == 1 ? SIZE_MAX : kListedHops;
  if (args.format == "json") {
    // Each object with its hops, root first; a cycle's member names its cycle instead.
    json all = json::array();
    for (int id : ids) {
      json one = {{"object", id}, {"text", a.describe(id)}};
      const Chain* chain = a.chain(id);
      if (chain && chain->cycle >= 0 && chain->cycle < static_cast<int>(r.cycles.size()) &&
          r.cycles[chain->cycle].members.size() > max_hops) {
        one["cycle"] = chain->cycle;
      } else if (chain) {
        std::size_t elided = 0;
        json hops = json::array();
        for (const Edge& e : a.chain_path(id, max_hops, &elided)) {
          json hop = edge_json(a, e);
          if (args.stacks) hop["site"] = a.site_of(a.object(e.from));
          hops.push_back(std::move(hop));
        }
        one["hops"] = std::move(hops);
        one["hops_elided"] = elided;
      }
      all.push_back(std::move(one));
    }
    std::printf("%s\n", all.dump(1).c_str());
    return leak_status(args, a);
  }
  for (int id : ids) {
    std::printf("%s\n", a.describe(id).c_str());
    const Chain* chain = a.chain(id);
    if (!chain) {
      std::printf("  (no chain)\n");
      continue;
    }
    if (chain->cycle >= 0 && chain->cycle < static_cast<int>(r.cycles.size()) &&
        r.cycles[chain->cycle].members.size() > max_hops) {
      std::printf("  a member of cycle c%d of %zu objects (chains %d goes around it)\n",
                  chain->cycle, r.cycles[chain->cycle].members.size(), id);
      continue;
    }
    std::size_t elided = 0;
    const auto hops = a.chain_path(id, max_hops, &elided);
    if (hops.empty()) std::printf("  held directly by untraced references\n");
    if (elided > 0)
      std::printf("  ... %zu hops before these (chains %d shows them all)\n", elided, id);
    for (const Edge& e : hops) {
      std::printf("  %s", a.describe(e).c_str());
      if (args.stacks) std::printf("    [%s]", a.site_of(a.object(e.from)).c_str());
      std::printf("\n");
    }
  }
  return leak_status(args, a);
}

}  // namespace cyclegc::report
