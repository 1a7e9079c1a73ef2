// The html page: one self-contained page (no network, no external files). The summary, then one
// expandable finding per cycle shape and per untraced holder, each with its cycle drawn as SVG,
// closing edge, allocation stacks and chains. A search box filters findings; a link of the form
// page.html#open=finding-N opens finding N when the page loads.
#include <algorithm>
#include <deque>
#include <map>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "analysis.h"
#include "graph_drawing.h"
#include "graph_layout.h"
#include "html_page.h"

namespace cyclegc::report {
namespace {

std::string esc(const std::string& s) {
  return absl::StrReplaceAll(s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}});
}

// The cycle as Graphviz lays it out; if Graphviz cannot (its plugins missing), its edges as text.
std::string cycle_drawing_html(const Analysis& a, const Cycle& c) {
  const auto svg = layout_svg(dot_text(a, cycle_drawing(c), NodeText::kLabel));
  if (svg.ok()) return absl::StrCat("<div class=\"cycle\">", *svg, "</div>");
  std::string out =
      absl::StrCat("<p class=\"muted\">Not drawn: ", esc(std::string(svg.status().message())),
                   ". Its edges:</p><ul>");
  for (const Edge& e : c.edges)
    absl::StrAppend(&out, "<li><code>", esc(a.describe(e)), "</code></li>");
  return out + "</ul>";
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
  // Each object once: a report's chains may hold a loop (a hostile one does), and a walk that
  // met an object again would never end.
  absl::flat_hash_set<int> seen(roots.begin(), roots.end());
  std::deque<int> queue(roots.begin(), roots.end());
  while (!queue.empty()) {
    const auto it = kept_by.find(queue.front());
    queue.pop_front();
    if (it == kept_by.end()) continue;
    for (const Chain* ch : it->second) {
      if (!seen.insert(ch->object).second) continue;
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
div.cycle svg { display: block; margin: .5em 0; max-width: 100%; height: auto; }
ul.retainers { list-style: none; padding-left: 1.2em; margin: .2em 0; }
ul.retainers li.root { color: #a40; } details.retainer { border: none; margin: 0; padding: 0; }
details.retainer summary { font-weight: normal; }
.closing-text { color: #c00; }
.fix { font-size: 1.1em; background: #eef7ee; border-left: 4px solid #4a4; padding: .4em .8em; }
)";

constexpr const char* kScript = R"(
const search = document.getElementById('search');
const shown = document.getElementById('shown');
search.addEventListener('input', () => {
  const q = search.value.toLowerCase();
  const findings = document.querySelectorAll('details.finding');
  let n = 0;
  for (const f of findings) {
    const match = f.textContent.toLowerCase().includes(q);
    f.style.display = match ? '' : 'none';
    n += match;
  }
  shown.textContent = q ? n + ' of ' + findings.length + ' findings match' : '';
});
const m = location.hash.match(/^#open=(.+)$/);
if (m) { const f = document.getElementById(m[1]); if (f) { f.open = true; f.scrollIntoView(); } }
)";

// A finding's section of the page, and the bytes it is sorted by.
struct Section {
  std::uint64_t bytes;
  std::string html;
};

// Who holds an object, as Chrome DevTools' Retainers panel shows it: the object's untraced
// references, then each edge into it, each retainer opening onto its own retainers. Bounded: at
// most kRetainerRows rows, kRetainerDepth deep, an object met again above is named, not opened.
constexpr std::size_t kRetainerRows = 40;
constexpr std::size_t kRetainerDepth = 6;
void retainers_rows(const Analysis& a, int id, std::vector<int>& above, std::size_t& rows,
                    std::string& out) {
  const Object& o = a.object(id);
  out += "<ul class=\"retainers\">";
  if (o.untraced_refs > 0 && rows < kRetainerRows) {
    ++rows;
    absl::StrAppend(&out, "<li class=\"root\">", o.untraced_refs, " untraced reference",
                    o.untraced_refs == 1 ? "" : "s",
                    " (a lambda, <code>std::function</code> or untracked object)</li>");
  }
  for (const Edge* e : a.retainers(id)) {
    if (rows >= kRetainerRows) {
      out += "<li class=\"muted\">&hellip;</li>";
      break;
    }
    ++rows;
    const std::string row = absl::StrCat("<code>.", esc(e->label), "</code> of <code>",
                                         esc(a.describe(e->from)), "</code>");
    if (std::find(above.begin(), above.end(), e->from) != above.end()) {
      absl::StrAppend(&out, "<li>", row, " <span class=\"muted\">(above: a cycle)</span></li>");
    } else if (above.size() >= kRetainerDepth) {
      absl::StrAppend(&out, "<li>", row, " <span class=\"muted\">&hellip;</span></li>");
    } else {
      absl::StrAppend(&out, "<li><details class=\"retainer\"><summary>", row, "</summary>");
      above.push_back(e->from);
      retainers_rows(a, e->from, above, rows, out);
      above.pop_back();
      out += "</details></li>";
    }
  }
  out += "</ul>";
}

std::string retainers_html(const Analysis& a, int id) {
  std::string out = absl::StrCat("<h3>Retainers of <code>", esc(a.describe(id)), "</code></h3>");
  std::vector<int> above = {id};
  std::size_t rows = 0;
  retainers_rows(a, id, above, rows, out);
  return out;
}

std::string fix_html(const std::vector<FixHint>& hints, const std::string& weak) {
  if (hints.empty()) return "";
  const FixHint& best = hints.front();
  std::string out = "<p class=\"fix\">Fix: make ";
  for (std::size_t k = 0; k < best.fields.size(); ++k) {
    absl::StrAppend(&out,
                    k == 0                        ? ""
                    : k + 1 == best.fields.size() ? " and "
                                                  : ", ",
                    "<code>", esc(best.fields[k]), "</code>");
  }
  absl::StrAppend(
      &out, best.fields.size() == 1 ? " a " : " ", "<code>", esc(weak), "</code> &mdash; frees ",
      best.cycles, best.cycles == 1 ? " cycle, " : " cycles, ", best.freed.objects.size(),
      best.freed.objects.size() == 1 ? " object (" : " objects (", best.freed.bytes, " bytes).");
  for (std::size_t k = 1; k < hints.size(); ++k)
    absl::StrAppend(&out, " Or ", esc(fix_text(hints[k], weak)), ".");
  return out + "</p>";
}

// One stack each, with the members it made, in the order the walk meets them.
std::string members_html(const Analysis& a, const Cycle& c) {
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
  std::string out = "<h3>Members and where they were made</h3>";
  std::size_t listed = 0;
  for (const auto& [stack, members] : by_stack) {
    listed += members.size();
    out += "<p>";
    if (members.size() > 1) absl::StrAppend(&out, members.size(), " members made here: ");
    for (std::size_t k = 0; k < std::min(members.size(), kListedMembers); ++k) {
      absl::StrAppend(&out, k ? ", " : "", "<code>", esc(a.describe(members[k])), "</code>");
    }
    if (members.size() > kListedMembers) out += ", &hellip;";
    absl::StrAppend(&out, "</p>", stack_html(a.report(), a.object(members.front())));
  }
  if (listed < c.members.size()) {
    absl::StrAppend(&out, "<p class=\"muted\">&hellip; and ", c.members.size() - listed,
                    " more members made elsewhere (<code>cyclegc-report show REPORT c", c.id,
                    "</code> lists them all).</p>");
  }
  return out;
}

// What Graphviz lays out on one page. Its time grows much faster than a drawing's edges (90
// edges among 10 objects: 0.13 s; 240 among 16: 2 s; 1,560 among 40: over two minutes), so a
// drawing has at most kDrawnEdges, a page at most kPageEdges in all, and only the
// kDrawnFindings largest findings are drawn: a page of 500 findings is read from the top.
constexpr std::size_t kDrawnFindings = 100;
constexpr std::size_t kDrawnEdges = 100;
constexpr std::size_t kPageEdges = 2000;

std::string shape_section(const Analysis& a, const KeptBy& kept_by, const ShapeFinding& f,
                          std::size_t& edges_left, bool listed_early) {
  const Cycle& c = a.report().cycles[f.cycles.front()];
  const Freed freed = a.freed_by_breaking(c);
  std::string out =
      absl::StrCat("<summary>", f.cycles.size(), " &times; cycle of ", esc(member_types(a, c)),
                   " &mdash; ", f.objects, " objects, ", f.bytes, " bytes, ", esc(f.status),
                   f.suppressed ? " (suppressed)" : "", "</summary>",
                   fix_html(a.fix_hints(f), weak_kind(a.report())), "<p>Shape <code>", esc(f.shape),
                   "</code>; example cycle c", c.id, ".</p>");
  const std::string draw_it =
      absl::StrCat(": <code>cyclegc-report dot REPORT c", c.id, "</code> draws it.</p>");
  if (c.members.size() > kDrawnMembers) {
    out += members_by_type(a, c);
  } else if (c.edges.size() > kDrawnEdges) {
    absl::StrAppend(&out, "<p class=\"muted\">A cycle of ", c.members.size(), " objects and ",
                    c.edges.size(), " edges: too dense to lay out here", draw_it);
  } else if (!listed_early || c.edges.size() > edges_left) {
    absl::StrAppend(&out, "<p class=\"muted\">Drawn for the largest findings only", draw_it);
  } else {
    edges_left -= c.edges.size();
    out += cycle_drawing_html(a, c);
  }
  absl::StrAppend(&out, "<p class=\"closing-text\">Closing edge: <code>",
                  esc(a.describe(c.closing_edge)), "</code> &mdash; breaking it frees ",
                  freed.objects.size(), " objects (", freed.bytes, " bytes).</p>",
                  members_html(a, c));
  if (const std::string kept = kept_alive_html(a, kept_by, c.members); !kept.empty()) {
    absl::StrAppend(&out, "<h3>Hanging off the cycle</h3>", kept);
  }
  if (absl::StartsWith(f.status, "live")) {
    // A live cycle: what holds it is the question, as for a held object.
    const auto held = std::find_if(c.members.begin(), c.members.end(),
                                   [&](int m) { return a.object(m).untraced_refs > 0; });
    out += retainers_html(a, held != c.members.end() ? *held : c.members.front());
  }
  return out;
}

std::string holder_section(const Analysis& a, const KeptBy& kept_by, const HolderFinding& f) {
  const Object& o = a.object(f.objects.front());
  std::string out = "<summary>";
  if (f.objects.size() == 1) {
    absl::StrAppend(&out, esc(o.label), " held by ", o.untraced_refs, " untraced reference",
                    o.untraced_refs == 1 ? "" : "s", " &mdash; ", f.bytes, " bytes");
  } else {
    absl::StrAppend(&out, f.objects.size(), " &times; ", esc(f.type),
                    " held by untraced references &mdash; ", f.bytes, " bytes");
  }
  absl::StrAppend(&out, f.suppressed ? " (suppressed)" : "",
                  "</summary><p>A lambda, <code>std::function</code> or untracked object that the "
                  "program lost holds ",
                  f.objects.size() == 1 ? "it" : "each", ": no collector can free it.");
  if (f.objects.size() > 1)
    absl::StrAppend(&out, " Example: <code>", esc(a.describe(o.id)), "</code>.");
  absl::StrAppend(&out, "</p>", stack_html(a.report(), o), retainers_html(a, o.id),
                  kept_alive_html(a, kept_by, {o.id}));
  return out;
}

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
  page << "<input id=\"search\" placeholder=\"Search findings: type, field, file...\">"
       << "<p id=\"shown\" class=\"muted\"></p>";
  // Cycle findings and holders in one list, the most bytes first: what to fix first is on top.
  std::vector<Section> sections;
  const std::size_t listed_shapes = std::min(shapes.size(), kListedShapes);
  std::size_t edges_left = kPageEdges;
  for (std::size_t i = 0; i < listed_shapes; ++i) {
    sections.push_back(
        {shapes[i].bytes, shape_section(a, kept_by, shapes[i], edges_left, i < kDrawnFindings)});
  }
  const auto holders = a.holders();
  const std::size_t listed_holders = std::min(holders.size(), kListedHolders);
  for (std::size_t i = 0; i < listed_holders; ++i) {
    sections.push_back({holders[i].bytes, holder_section(a, kept_by, holders[i])});
  }
  std::stable_sort(sections.begin(), sections.end(),
                   [](const Section& x, const Section& y) { return x.bytes > y.bytes; });
  for (std::size_t n = 0; n < sections.size(); ++n) {
    page << "<details class=\"finding\" id=\"finding-" << n << "\">" << sections[n].html
         << "</details>";
  }
  if (listed_shapes < shapes.size()) {
    page << "<p class=\"muted\" id=\"more-shapes\">&hellip; and " << shapes.size() - listed_shapes
         << " more cycle shapes, smaller than these (<code>cyclegc-report summary</code> lists "
            "them all).</p>";
  }
  if (listed_holders < holders.size()) {
    page << "<p class=\"muted\" id=\"more-holders\">&hellip; and "
         << holders.size() - listed_holders
         << " more kinds of object held by untraced references (<code>cyclegc-report summary"
            "</code> lists them all).</p>";
  }
  if (sections.empty()) page << "<p id=\"clean\">No leaks.</p>";
  page << still_reachable_html(r);
  page << "<script>" << kScript << "</script></body></html>\n";
  return page.str();
}

}  // namespace cyclegc::report
