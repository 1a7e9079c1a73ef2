// diff, baseline and dot: comparing reports, gating CI, drawing graphs.
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "analysis.h"
#include "cli.h"
#include "cyclegc_report/untrusted.h"
#include "graph_drawing.h"
#include "json_views.h"

namespace cyclegc::report {
namespace {

constexpr std::size_t kMaxBaselineBytes = std::size_t{64} << 20;

// Leaks by a key that does not depend on addresses or ASLR: a cycle's shape, or, for objects in
// no cycle, their type and allocation site.
std::map<std::string, std::uint64_t> leak_keys(const Analysis& a) {
  std::map<std::string, std::uint64_t> keys;
  absl::flat_hash_set<int> in_cycle;
  for (const auto& f : a.shapes()) {
    if (f.suppressed) continue;
    keys["shape:" + f.shape] += f.cycles.size();
    for (int c : f.cycles) {
      for (int m : a.report().cycles[c].members) in_cycle.insert(m);
    }
  }
  for (int id : a.leaked()) {
    if (in_cycle.contains(id)) continue;
    const Object& o = a.object(id);
    keys[absl::StrCat("site:", o.type, "@", a.site_of(o))] += 1;
  }
  return keys;
}

// Live objects by type and allocation site.
std::map<std::string, std::uint64_t> live_keys(const Report& r) {
  std::map<std::string, std::uint64_t> keys;
  for (const auto& g : r.live) {
    std::string site = "unknown";
    if (g.stack >= 0 && g.stack < static_cast<int>(r.stacks.size()) &&
        !r.stacks[g.stack].frames.empty()) {
      site = site_text(r.stacks[g.stack].frames.front());
    }
    keys[absl::StrCat(g.type, " at ", site)] += g.count;
  }
  return keys;
}

}  // namespace

int cmd_diff(const Args& args) {
  int status = kOk;
  auto old_report = load_report(args.positional[0], args, status);
  if (!old_report.ok()) return status;
  auto new_report = load_report(args.positional[1], args, status);
  if (!new_report.ok()) return status;
  Analysis old_a(*old_report), new_a(*new_report);
  struct Change {
    std::string what, key;
    std::uint64_t before, after;
  };
  std::vector<Change> changes;
  auto compare = [&](const char* what, const std::map<std::string, std::uint64_t>& before,
                     const std::map<std::string, std::uint64_t>& after) {
    for (const auto& [key, n] : after) {
      auto it = before.find(key);
      const std::uint64_t was = it == before.end() ? 0 : it->second;
      if (n > was) changes.push_back({what, key, was, n});
    }
  };
  compare("leak", leak_keys(old_a), leak_keys(new_a));
  // What a shape key means, for people: its kinds of edges and its fix.
  std::map<std::string, std::string> meaning;
  for (const auto& f : new_a.shapes()) {
    std::string& text = meaning["shape:" + f.shape];
    if (!text.empty()) continue;
    text = shape_text(new_a, new_report->cycles[f.cycles.front()]);
    if (const auto hints = new_a.fix_hints(f, 1); !hints.empty()) {
      absl::StrAppend(&text, "; fix: ", fix_text(hints.front(), weak_kind(*new_report)));
    }
  }
  compare("live", live_keys(*old_report), live_keys(*new_report));
  if (args.format == "json") {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& c : changes) {
      j.push_back({{"kind", c.what},
                   {"key", c.key},
                   {"means", meaning.contains(c.key) ? meaning[c.key] : ""},
                   {"before", c.before},
                   {"after", c.after}});
    }
    std::printf("%s\n", j.dump(1).c_str());
  } else if (changes.empty()) {
    std::printf("nothing new or grown from %s to %s\n", args.positional[0].c_str(),
                args.positional[1].c_str());
  } else {
    for (const auto& c : changes) {
      const std::string means = meaning.contains(c.key) ? " (" + meaning[c.key] + ")" : "";
      std::printf("%s %s %s: %llu -> %llu%s\n", c.before == 0 ? "new" : "grew", c.what.c_str(),
                  c.key.c_str(), static_cast<unsigned long long>(c.before),
                  static_cast<unsigned long long>(c.after), means.c_str());
    }
  }
  bool new_leaks = false;
  for (const auto& c : changes) new_leaks |= c.what == "leak";
  return args.fail_on_leak && new_leaks ? kLeaksFound : kOk;
}

int cmd_baseline(const Args& args) {
  const std::string& action = args.positional[0];
  if (action != "write" && action != "check") {
    std::fprintf(stderr, "cyclegc-report: baseline takes write or check, not '%s'\n",
                 action.c_str());
    return kUsage;
  }
  int status = kOk;
  auto report = load_report(args.positional[1], args, status);
  if (!report.ok()) return status;
  Analysis a(*report);
  const auto keys = leak_keys(a);
  const std::string& file = args.positional[2];
  if (action == "write") {
    std::string text = "# cyclegc baseline: known leaks, one key a line\n";
    for (const auto& [key, n] : keys) absl::StrAppend(&text, key, "\n");
    if (const int written = write_output(file, text); written != kOk) return written;
    if (args.format == "json") {
      std::printf("%s\n",
                  nlohmann::json({{"baseline", file}, {"known", keys.size()}}).dump(1).c_str());
    } else {
      std::printf("baseline %s: %zu known leaks\n", file.c_str(), keys.size());
    }
    return kOk;
  }
  // A baseline is untrusted input like a report: a regular file of bounded size.
  const auto text = read_regular_file(file, kMaxBaselineBytes);
  if (!text.ok()) {
    std::fprintf(stderr, "cyclegc-report: baseline: %s\n",
                 std::string(text.status().message()).c_str());
    return kIoError;
  }
  std::set<std::string> known;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    if (!line.empty() && line[0] != '#') known.emplace(line);
  }
  nlohmann::json unknown = nlohmann::json::array();
  for (const auto& [key, n] : keys) {
    if (known.count(key)) continue;
    unknown.push_back({{"key", key}, {"count", n}});
    if (args.format != "json")
      std::printf("new leak: %s (%llu)\n", key.c_str(), static_cast<unsigned long long>(n));
  }
  if (args.format == "json") {
    std::printf("%s\n", nlohmann::json({{"baseline", file}, {"new", unknown}}).dump(1).c_str());
  } else if (unknown.empty()) {
    std::printf("no leaks beyond the baseline\n");
  }
  return unknown.empty() ? kOk : kLeaksFound;
}

int cmd_dot(const Args& args) {
  int status = kOk;
  auto report = load_report(args.positional[0], args, status);
  if (!report.ok()) return status;
  const Report& r = *report;
  Analysis a(r);
  Drawing d;
  std::set<int>& nodes = d.nodes;
  std::vector<Edge>& edges = d.edges;
  for (const Cycle& c : r.cycles)
    d.closing.insert({c.closing_edge.from, c.closing_edge.to, c.closing_edge.label});
  if (args.positional.size() == 2) {
    const auto target = a.target(args.positional[1], /*cycles_allowed=*/true);
    if (!target) return kUsage;
    const bool is_cycle = target->is_cycle;
    const int id = target->id;
    if (is_cycle) {
      for (int m : r.cycles[id].members) nodes.insert(m);
      edges = r.cycles[id].edges;
    } else {
      nodes.insert(id);
      if (const Chain* ch = a.chain(id)) {
        const bool member = ch->cycle >= 0 && ch->cycle < static_cast<int>(r.cycles.size());
        const auto hops = member ? r.cycles[ch->cycle].edges : a.chain_path(id);
        if (member) {
          for (int m : r.cycles[ch->cycle].members) nodes.insert(m);
        }
        for (const Edge& e : hops) {
          nodes.insert(e.from);
          nodes.insert(e.to);
          edges.push_back(e);
        }
      }
    }
  } else {
    for (const Cycle& c : r.cycles) {
      for (int m : c.members) nodes.insert(m);
      edges.insert(edges.end(), c.edges.begin(), c.edges.end());
    }
  }
  if (args.format == "json") {
    nlohmann::json nodes_json = nlohmann::json::array(), edges_json = nlohmann::json::array();
    for (int id : nodes) {
      const Object& o = a.object(id);
      nodes_json.push_back({{"object", id}, {"type", o.type}, {"label", o.label}});
    }
    for (const Edge& e : edges) {
      nlohmann::json edge = edge_json(a, e);
      edge["closing"] = d.closing.count({e.from, e.to, e.label}) > 0;
      edges_json.push_back(std::move(edge));
    }
    std::printf("%s\n",
                nlohmann::json({{"nodes", nodes_json}, {"edges", edges_json}}).dump(1).c_str());
    return kOk;
  }
  std::fputs(dot_text(a, d, NodeText::kTypeAndLabel).c_str(), stdout);
  return kOk;
}

}  // namespace cyclegc::report
