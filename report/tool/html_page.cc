// The html page: one self-contained page (no network, no external files). The summary, then one
// expandable finding per cycle shape and per untraced holder, each with its cycle drawn as SVG,
// closing edge, allocation stacks and chains. A search box filters findings; a link of the form
// page.html#open=finding-N opens finding N when the page loads.
#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "analysis.h"
#include "html_page.h"

namespace cyclegc::report {
namespace {

std::string esc(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// The members on a circle, edges as arrows with their labels; the closing edge in red.
std::string cycle_svg(const Analysis& a, const Cycle& c) {
  const int n = static_cast<int>(c.members.size());
  const double radius = n == 1 ? 0 : std::max(90.0, 30.0 * n);
  const double size = 2 * radius + 260;
  std::map<int, std::pair<double, double>> at;
  for (int i = 0; i < n; ++i) {
    const double angle = 2 * M_PI * i / n - M_PI / 2;
    at[c.members[i]] = {size / 2 + radius * std::cos(angle), size / 2 + radius * std::sin(angle)};
  }
  std::ostringstream svg;
  svg << "<svg class=\"cycle\" viewBox=\"0 0 " << size << " " << size << "\" width=\"" << size
      << "\" height=\"" << size << "\">"
      << "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\""
         " markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\"/>"
         "</marker></defs>";
  for (const Edge& e : c.edges) {
    auto [x1, y1] = at[e.from];
    auto [x2, y2] = at[e.to];
    const bool closing = e.from == c.closing_edge.from && e.to == c.closing_edge.to &&
                         e.label == c.closing_edge.label;
    if (e.from == e.to) {  // a self-loop: a small arc above the node
      svg << "<path d=\"M" << x1 - 20 << "," << y1 - 14 << " C" << x1 - 40 << "," << y1 - 70 << " "
          << x1 + 40 << "," << y1 - 70 << " " << x1 + 20 << "," << y1 - 14
          << "\" fill=\"none\" class=\"" << (closing ? "edge closing" : "edge")
          << "\" marker-end=\"url(#arrow)\"/><text x=\"" << x1 << "\" y=\"" << y1 - 62
          << "\" class=\"label\">" << esc(e.label) << "</text>";
      continue;
    }
    const double dx = x2 - x1, dy = y2 - y1, len = std::hypot(dx, dy);
    const double ux = dx / len, uy = dy / len;
    // Offset sideways so that a->b and b->a do not overlap.
    const double ox = -uy * 8, oy = ux * 8;
    svg << "<line x1=\"" << x1 + ux * 22 + ox << "\" y1=\"" << y1 + uy * 22 + oy << "\" x2=\""
        << x2 - ux * 22 + ox << "\" y2=\"" << y2 - uy * 22 + oy << "\" class=\""
        << (closing ? "edge closing" : "edge")
        << "\" marker-end=\"url(#arrow)\"/>"
        // The label sits a third of the way from the source, so opposite edges' labels part.
        << "<text x=\"" << x1 + dx / 3 + ox * 2.5 << "\" y=\"" << y1 + dy / 3 + oy * 2.5
        << "\" class=\"label\">" << esc(e.label) << "</text>";
  }
  for (int m : c.members) {
    auto [x, y] = at[m];
    svg << "<circle cx=\"" << x << "\" cy=\"" << y << "\" r=\"20\" class=\"node\"/>"
        << "<text x=\"" << x << "\" y=\"" << y + 36 << "\" class=\"name\">"
        << esc(a.object(m).label) << "</text>";
  }
  svg << "</svg>";
  return svg.str();
}

// A page stays readable, and small enough for a browser, whatever the report holds: a cycle of
// more than kDrawnMembers is summarised by type instead of drawn, at most kListedMembers of its
// members are listed, and at most kListedShapes shapes (the largest) and kListedHolders untraced
// holders get a finding of their own.
constexpr std::size_t kDrawnMembers = 40;
constexpr std::size_t kListedShapes = 500;
constexpr std::size_t kListedMembers = 20;
constexpr std::size_t kListedHolders = 500;

// A cycle too large to draw: how many members of each type, and how many edges.
std::string members_by_type(const Analysis& a, const Cycle& c) {
  std::map<std::string, std::size_t> count;
  for (int m : c.members) ++count[a.object(m).type];
  std::string out =
      absl::StrCat("<p class=\"big-cycle\">A cycle of ", c.members.size(), " objects and ",
                   c.edges.size(), " edges: too many to draw. By type:</p><ul>");
  for (const auto& [type, k] : count) {
    absl::StrAppend(&out, "<li><code>", esc(type), "</code> &times; ", k, "</li>");
  }
  return out + "</ul>";
}

std::string stack_html(const Report& r, const Object& o) {
  if (o.stack < 0) return "<p class=\"muted\">no allocation stack</p>";
  std::string out = "<ol class=\"stack\">";
  for (const Frame& f : r.stacks[o.stack].frames) {
    absl::StrAppend(&out, "<li><code>", esc(readable_signature(f.function)), "</code> at <code>",
                    esc(f.file), ":", f.line, "</code></li>");
  }
  return out + "</ol>";
}

// What each leaked object keeps alive directly: the chains whose last hop starts at it.
using KeptBy = absl::flat_hash_map<int, std::vector<const Chain*>>;
KeptBy kept_by_object(const Report& r) {
  KeptBy kept_by;
  for (const Chain& ch : r.chains) {
    if (ch.cycle < 0 && !ch.hops.empty()) kept_by[ch.hops.back().from].push_back(&ch);
  }
  return kept_by;
}

// Everything `roots` keep alive and nothing else does — a cycle's hangers, a holder's objects —
// nearest first, each with the edge it hangs by: freed with them, so part of the finding.
std::string kept_alive_html(const Analysis& a, const KeptBy& kept_by,
                            const std::vector<int>& roots) {
  std::vector<const Chain*> kept;
  std::deque<int> queue(roots.begin(), roots.end());
  while (!queue.empty()) {
    const auto it = kept_by.find(queue.front());
    queue.pop_front();
    if (it == kept_by.end()) continue;
    for (const Chain* ch : it->second) {
      kept.push_back(ch);
      queue.push_back(ch->object);
    }
  }
  std::string out;
  for (std::size_t k = 0; k < std::min(kept.size(), kListedMembers); ++k) {
    absl::StrAppend(&out, "<p>Keeps alive <code>", esc(a.describe(kept[k]->object)),
                    "</code> via <code>", esc(a.describe(kept[k]->hops.back())), "</code></p>");
  }
  if (kept.size() > kListedMembers) {
    absl::StrAppend(&out, "<p class=\"muted\">&hellip; and ", kept.size() - kListedMembers,
                    " more.</p>");
  }
  return out;
}

// The holders of what the program still held at its end: counted, never findings.
std::string still_reachable_html(const Report& r) {
  if (r.still_reachable.empty()) return "";
  std::string out =
      "<h2>Still reachable at the program's end</h2><p class=\"muted\">A thread's stack or a "
      "global still held these when the program ended: not leaks.</p><ul id=\"still-reachable\">";
  const StillReachableTotals totals = still_reachable_totals(r);
  for (const auto* g : totals.largest_first) {
    absl::StrAppend(&out, "<li>", g->count, " from <code>", esc(g->holder), "</code> (",
                    esc(g->kind), ", ", g->bytes, " bytes)</li>");
  }
  return out + "</ul>";
}

constexpr const char* kStyle = R"(
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } .muted { color: #777; }
.totals span { display: inline-block; margin-right: 1.5em; padding: .3em .6em; background: #f3f3f3; border-radius: 4px; }
#search { width: 100%; padding: .5em; font-size: 1em; margin: 1em 0; }
details { border: 1px solid #ddd; border-radius: 6px; margin: .6em 0; padding: .4em .8em; }
details[open] { background: #fcfcfc; } summary { cursor: pointer; font-weight: 600; }
code { font-size: .92em; } .stack { margin: .2em 0 .8em; }
svg.cycle { display: block; margin: .5em 0; max-width: 100%; height: auto; }
.node { fill: #dbe9ff; stroke: #3465a4; stroke-width: 2; }
.edge { stroke: #555; stroke-width: 1.5; } .edge.closing { stroke: #c00; stroke-width: 3; }
.label { font: 12px monospace; fill: #333; text-anchor: middle; }
.name { font: 12px monospace; text-anchor: middle; }
.closing-text { color: #c00; }
.fix { font-size: 1.1em; background: #eef7ee; border-left: 4px solid #4a4; padding: .4em .8em; }
)";

constexpr const char* kScript = R"(
const search = document.getElementById('search');
search.addEventListener('input', () => {
  const q = search.value.toLowerCase();
  for (const f of document.querySelectorAll('details.finding')) {
    f.style.display = f.textContent.toLowerCase().includes(q) ? '' : 'none';
  }
});
const m = location.hash.match(/^#open=(.+)$/);
if (m) { const f = document.getElementById(m[1]); if (f) { f.open = true; f.scrollIntoView(); } }
)";

}  // namespace

std::string html_page(const Analysis& a) {
  const Report& r = a.report();
  std::ostringstream page;
  page << "<!doctype html><html><head><meta charset=\"utf-8\"><title>cyclegc report: "
       << esc(r.process.executable) << "</title><style>" << kStyle << "</style></head><body>";
  page << "<h1>cyclegc report</h1><p class=\"muted\">" << esc(r.process.executable) << ", pid "
       << r.process.pid << ", " << esc(r.process.reason) << ", " << esc(r.process.time)
       << "; stacks by " << esc(r.process.stack_method) << "</p>";
  const auto shapes = a.shapes();
  page << "<p class=\"totals\"><span id=\"leaked\">" << a.leaked().size()
       << " leaked objects</span><span>" << r.cycles.size() << " cycles in " << shapes.size()
       << " shapes</span><span>" << r.untraced.size() << " held by untraced references</span>"
       << "<span>" << r.uncollectable.size() << " uncollectable</span>";
  if (!r.still_reachable.empty()) {
    page << "<span>" << still_reachable_totals(r).objects << " still reachable, not leaks</span>";
  }
  page << "</p>";
  const KeptBy kept_by = kept_by_object(r);
  page << "<input id=\"search\" placeholder=\"Search findings: type, label, file...\">";
  int n = 0;
  const std::size_t listed_shapes = std::min(shapes.size(), kListedShapes);
  for (std::size_t i = 0; i < listed_shapes; ++i) {
    const ShapeFinding& f = shapes[i];
    const Cycle& c = r.cycles[f.cycles.front()];
    const Freed freed = a.freed_by_breaking(c);
    page << "<details class=\"finding\" id=\"finding-" << n++ << "\"><summary>" << f.cycles.size()
         << " &times; cycle of " << c.members.size() << " " << esc(a.object(c.members[0]).type)
         << (c.members.size() > 1 ? "…" : "") << " &mdash; " << f.objects << " objects, " << f.bytes
         << " bytes, " << esc(f.status) << (f.suppressed ? " (suppressed)" : "") << "</summary>";
    if (const auto hints = a.fix_hints(f); !hints.empty()) {
      const FixHint& best = hints.front();
      page << "<p class=\"fix\">Fix: make ";
      for (std::size_t k = 0; k < best.fields.size(); ++k) {
        page << (k == 0                        ? ""
                 : k + 1 == best.fields.size() ? " and "
                                               : ", ")
             << "<code>" << esc(best.fields[k]) << "</code>";
      }
      page << (best.fields.size() == 1 ? " a " : " ") << "<code>Weak</code> &mdash; frees "
           << best.cycles << (best.cycles == 1 ? " cycle, " : " cycles, ")
           << best.freed.objects.size() << " objects (" << best.freed.bytes << " bytes).";
      for (std::size_t k = 1; k < hints.size(); ++k)
        page << " Or " << esc(fix_text(hints[k])) << ".";
      page << "</p>";
    }
    page << "<p>Shape <code>" << esc(f.shape) << "</code>; example cycle c" << c.id << ".</p>";
    if (c.members.size() <= kDrawnMembers) {
      page << cycle_svg(a, c);
    } else {
      page << members_by_type(a, c);
    }
    page << "<p class=\"closing-text\">Closing edge: <code>" << esc(a.describe(c.closing_edge))
         << "</code> &mdash; breaking it frees " << freed.objects.size() << " objects ("
         << freed.bytes << " bytes).</p><h3>Members and where they were made</h3>";
    // One stack each, with the members it made, in the order the walk meets them.
    std::vector<std::pair<int, std::vector<int>>> by_stack;
    for (int m : c.members) {
      const int stack = a.object(m).stack;
      auto it = std::find_if(by_stack.begin(), by_stack.end(),
                             [&](const auto& group) { return group.first == stack; });
      if (it == by_stack.end() && by_stack.size() < kListedMembers) {
        it = by_stack.insert(by_stack.end(), {stack, {}});
      }
      if (it != by_stack.end()) it->second.push_back(m);
    }
    std::size_t listed = 0;
    for (const auto& [stack, members] : by_stack) {
      listed += members.size();
      page << "<p>";
      if (members.size() > 1) page << members.size() << " members made here: ";
      for (std::size_t k = 0; k < std::min(members.size(), kListedMembers); ++k) {
        page << (k ? ", " : "") << "<code>" << esc(a.describe(members[k])) << "</code>";
      }
      if (members.size() > kListedMembers) page << ", &hellip;";
      page << "</p>" << stack_html(r, a.object(members.front()));
    }
    if (listed < c.members.size()) {
      page << "<p class=\"muted\">&hellip; and " << c.members.size() - listed
           << " more members made elsewhere (<code>cyclegc-report show REPORT c" << c.id
           << "</code> lists them all).</p>";
    }
    if (const std::string kept = kept_alive_html(a, kept_by, c.members); !kept.empty()) {
      page << "<h3>Hanging off the cycle</h3>" << kept;
    }
    page << "</details>";
  }
  if (listed_shapes < shapes.size()) {
    page << "<p class=\"muted\" id=\"more-shapes\">&hellip; and " << shapes.size() - listed_shapes
         << " more cycle shapes, smaller than these (<code>cyclegc-report summary</code> lists "
            "them all).</p>";
  }
  const auto holders = a.holders();
  const std::size_t listed_holders = std::min(holders.size(), kListedHolders);
  for (std::size_t i = 0; i < listed_holders; ++i) {
    const HolderFinding& f = holders[i];
    const Object& o = a.object(f.objects.front());
    page << "<details class=\"finding\" id=\"finding-" << n++ << "\"><summary>";
    if (f.objects.size() == 1) {
      page << esc(o.label) << " held by " << o.untraced_refs << " untraced reference"
           << (o.untraced_refs == 1 ? "" : "s");
    } else {
      page << f.objects.size() << " &times; " << esc(f.type) << " held by untraced references "
           << "&mdash; " << f.bytes << " bytes";
    }
    page << (f.suppressed ? " (suppressed)" : "")
         << "</summary><p>A lambda, <code>std::function</code> or untracked object that the "
         << "program lost holds " << (f.objects.size() == 1 ? "it" : "each")
         << ": no collector can free it.";
    if (f.objects.size() > 1) page << " Example: <code>" << esc(a.describe(o.id)) << "</code>.";
    page << "</p>" << stack_html(r, o) << kept_alive_html(a, kept_by, {o.id}) << "</details>";
  }
  if (listed_holders < holders.size()) {
    page << "<p class=\"muted\" id=\"more-holders\">&hellip; and "
         << holders.size() - listed_holders
         << " more kinds of object held by untraced references (<code>cyclegc-report summary"
            "</code> lists them all).</p>";
  }
  if (n == 0) page << "<p id=\"clean\">No leaks.</p>";
  page << still_reachable_html(r);
  page << "<script>" << kScript << "</script></body></html>\n";
  return page.str();
}

}  // namespace cyclegc::report
