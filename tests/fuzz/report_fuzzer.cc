// libFuzzer target for everything cyclegc-report reads from files: the report reader, the
// suppressions parser, and what the tool computes and shows from whatever the reader accepts —
// findings, chains and the html page. None may crash, hang or read out of bounds on any input;
// an accepted report must survive a round trip, and no value in it may add markup to the page.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include <graphviz/cgraph.h>

#include "../../report/tool/analysis.h"
#include "../../report/tool/graph_drawing.h"
#include "../../report/tool/html_page.h"
#include "../../report/tool/json_views.h"
#include "cyclegc_report/report.h"
#include "cyclegc_report/suppressions.h"

namespace {

// Each of < > " & as \xff and a letter, and \xff as \xff\xff: one-to-one, so the report groups,
// orders and counts as before, but none of its strings holds a character markup is made of.
std::string defang(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out +=
            "\xff"
            "l";
        break;
      case '>':
        out +=
            "\xff"
            "g";
        break;
      case '"':
        out +=
            "\xff"
            "q";
        break;
      case '&':
        out +=
            "\xff"
            "a";
        break;
      case '\xff':
        out += "\xff\xff";
        break;
      default:
        out += c;
    }
  }
  return out;
}

cyclegc::report::Report defanged(cyclegc::report::Report r) {
  auto all = [](std::string& s) { s = defang(s); };
  all(r.process.executable), all(r.process.options), all(r.process.stack_method);
  all(r.process.reason), all(r.process.time);
  for (auto& o : r.objects) all(o.type), all(o.address), all(o.label);
  for (auto& s : r.stacks) {
    for (auto& f : s.frames) all(f.function), all(f.file);
  }
  for (auto& e : r.edges) all(e.label);
  for (auto& c : r.cycles) {
    all(c.shape), all(c.closing_edge.label);
    for (auto& e : c.edges) all(e.label);
  }
  for (auto& c : r.chains) {
    for (auto& e : c.hops) all(e.label);
  }
  for (auto& g : r.live) all(g.type);
  return r;
}

// The DOT text of every cycle, read back by Graphviz's parser: the nodes and edges we wrote, each
// node's label what the report says. A label that ended its string or started an attribute of
// its own (a URL, say, which SVG output turns into a link) would change one or the other.
void check_dot_round_trip(const cyclegc::report::Analysis& a) {
  for (const auto& c : a.report().cycles) {
    const cyclegc::report::Drawing d = cyclegc::report::cycle_drawing(c);
    const std::string dot = cyclegc::report::dot_text(a, d, cyclegc::report::NodeText::kLabel);
    Agraph_t* g = agmemread(dot.c_str());
    if (g == nullptr) __builtin_trap();
    if (agnnodes(g) != static_cast<int>(d.nodes.size())) __builtin_trap();
    if (agnedges(g) != static_cast<int>(d.edges.size())) __builtin_trap();
    for (int id : d.nodes) {
      Agnode_t* n = agnode(g, const_cast<char*>(("n" + std::to_string(id)).c_str()), 0);
      if (n == nullptr) __builtin_trap();
      // What Graphviz will draw: its escapes (\\ and \n) undone, as its renderer does.
      std::string drawn;
      const std::string raw = agget(n, const_cast<char*>("label"));
      for (std::size_t k = 0; k < raw.size(); ++k) {
        if (raw[k] == '\\' && k + 1 < raw.size()) {
          drawn += raw[k + 1] == 'n' ? '\n' : raw[k + 1];
          ++k;
        } else {
          drawn += raw[k];
        }
      }
      std::string label;
      for (char ch : a.object(id).label) {
        if (ch == '\0') {
          label += "\\0";
        } else {
          label += ch == '\r' ? '\n' : ch;
        }
      }
      if (drawn != label) __builtin_trap();
      if (agget(n, const_cast<char*>("URL")) != nullptr &&
          *agget(n, const_cast<char*>("URL")) != '\0') {
        __builtin_trap();
      }
    }
    agclose(g);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto report = cyclegc::report::from_json(text);
  if (report.ok()) {
    auto again = cyclegc::report::from_json(cyclegc::report::to_json(*report));
    if (!again.ok()) __builtin_trap();  // what we write we must be able to read
    cyclegc::report::apply_suppressions({{"T"}, {"f"}, {"0"}}, *report);
    // And what cyclegc-report computes from an accepted report.
    cyclegc::report::Analysis a(*report);
    // What summary, show, chains and dot print, text and JSON alike, is made of these.
    for (const auto& f : a.shapes()) (void)cyclegc::report::fixes_json(a.fix_hints(f)).dump();
    (void)a.sites();
    (void)a.holders();
    for (const auto& e : report->edges) (void)cyclegc::report::edge_json(a, e).dump();
    for (const auto& o : report->objects) {
      (void)cyclegc::report::stack_json(*report, o).dump();
      (void)a.retainers(o.id);
    }
    for (const auto& c : report->cycles) (void)a.freed_by_breaking(c);
    for (int id : a.leaked()) {
      (void)a.site_of(a.object(id));
      (void)a.chain(id);
      std::size_t elided = 0;
      (void)a.chain_path(id, 8, &elided);
      (void)a.chain_path(id);
    }
    check_dot_round_trip(a);
    // Escaping: the page's markup is the same whatever the report's strings hold.
    const std::string page = cyclegc::report::html_page(a);
    const cyclegc::report::Report plain = defanged(*report);
    const std::string plain_page = cyclegc::report::html_page(cyclegc::report::Analysis(plain));
    for (char c : {'<', '>', '"'}) {
      if (std::count(page.begin(), page.end(), c) !=
          std::count(plain_page.begin(), plain_page.end(), c)) {
        __builtin_trap();
      }
    }
  }
  (void)cyclegc::report::parse_suppressions(text);
  return 0;
}
