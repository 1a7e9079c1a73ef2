// cyclegc-report on reports made by running the samples under the agent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "report_factory.h"
#include "sample_source.h"
#include "subprocess.h"

namespace {

namespace fs = std::filesystem;
using cyclegc::testing::ProgramRun;
using cyclegc::testing::run_shell;
using ::testing::HasSubstr;
using ::testing::Not;

class ReportToolTest : public ::testing::Test {
 protected:
  // Runs a sample under the agent; returns the report's path.
  std::string report_of(const std::string& sample, const std::string& args,
                        const std::string& options = "") {
    const std::string path = dir_ + "/" + sample + std::to_string(++reports_) + ".json";
    ProgramRun r = run_shell("cd '" + dir_ + "' && ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD='" +
                             CYCLEGC_PRELOAD_PREFIX + CYCLEGC_AGENT +
                             "' CYCLEGC_OPTIONS='summary=0:" + options + "report_path=" + path +
                             "' " + CYCLEGC_SAMPLES_DIR + "/" + sample + " " + args);
    EXPECT_EQ(r.status, 0) << r.output;
    return path;
  }
  ProgramRun tool(const std::string& args) {
    return run_shell(std::string(CYCLEGC_REPORT) + " " + args);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
    return dir_ + "/" + name;
  }

  cyclegc::testing::TempDir temp_;
  const std::string& dir_ = temp_.path();
  int reports_ = 0;
};

int alloc_line(const std::string& sample, const std::string& marker) {
  return cyclegc::testing::alloc_line(std::string(CYCLEGC_SAMPLES_SOURCE_DIR) + "/" + sample,
                                      marker);
}

TEST_F(ReportToolTest, SummaryGroupsIdenticalCyclesIntoOneFinding) {
  const std::string report = report_of("leaky_tree", "3 4");
  ProgramRun r = tool("summary " + report);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("15 objects leaked"));
  EXPECT_THAT(r.output, HasSubstr("#1 3 x cycle of 5 TreeNode"));
  EXPECT_THAT(r.output, Not(HasSubstr("#2 ")));
  EXPECT_THAT(r.output, HasSubstr("closing edge: TreeNode(para0).parent -> TreeNode(doc0)"));
  EXPECT_THAT(r.output, HasSubstr("12 x TreeNode at add_child (leaky_tree.cc:" +
                                  std::to_string(alloc_line("leaky_tree.cc", "tree-child")) + ")"));
  ProgramRun json = tool("summary --format=json " + report);
  auto parsed = nlohmann::json::parse(json.output);
  ASSERT_EQ(parsed["shapes"].size(), 1u);
  EXPECT_EQ(parsed["shapes"][0]["cycles"], 3);
  EXPECT_EQ(parsed["leaked_objects"], 15);
}

// One bug is one finding: documents of 1 to 4 pages, each page holding its document strongly,
// make cycles of 2 to 5 objects, all of one shape; a baseline taken on a small run knows the
// bug in a large one.
TEST_F(ReportToolTest, OneBugIsOneFindingWhateverTheSizeOfItsCycles) {
  const std::string report = report_of("leaky_document", "4 0");
  ProgramRun r = tool("summary " + report);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("#1 4 x cycle of"));
  EXPECT_THAT(r.output, Not(HasSubstr("#2 ")));
  auto json = nlohmann::json::parse(tool("summary --format=json " + report).output);
  ASSERT_EQ(json["shapes"].size(), 1u);
  EXPECT_EQ(json["shapes"][0]["objects"], 14);
  const std::string small = report_of("leaky_document", "2 0");
  const std::string baseline = dir_ + "/baseline.txt";
  ASSERT_EQ(tool("baseline write " + small + " " + baseline).status, 0);
  ProgramRun check = tool("baseline check " + report + " " + baseline);
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_THAT(check.output, HasSubstr("no leaks beyond the baseline"));
}

// The fix is a field: the fields whose edges, made Weak, break every cycle of the finding,
// fewest first, the back-pointers (edges to the older object) before the others; shown in
// summary (text and JSON), show and the page.
TEST_F(ReportToolTest, EachFindingNamesTheFieldsToMakeWeak) {
  const std::string documents = report_of("leaky_document", "3 0");
  ProgramRun summary = tool("summary " + documents);
  EXPECT_THAT(summary.output, HasSubstr("fix: make Page::doc a Weak (frees 3 cycles, 9 objects"));
  auto json = nlohmann::json::parse(tool("summary --format=json " + documents).output);
  EXPECT_EQ(json["shapes"][0]["fix"][0]["fields"], nlohmann::json::array({"Page::doc"}));
  EXPECT_THAT(tool("show " + documents + " c0").output, HasSubstr("fix: make Page::doc a Weak"));
  EXPECT_THAT(tool("html " + documents + " -o -").output,
              HasSubstr("Fix: make <code>Page::doc</code> a <code>Weak</code>"));

  const std::string tree = report_of("leaky_tree", "2 3");
  EXPECT_THAT(tool("summary " + tree).output, HasSubstr("fix: make TreeNode::parent a Weak"));

  // Two cycles through each buffer: one field cannot break both.
  const std::string editors = report_of("leaky_document", "0 2");
  EXPECT_THAT(tool("summary " + editors).output,
              HasSubstr("fix: make Buffer::editor and Cursor::buffer Weak (frees 2 cycles, 6 "
                        "objects"));
}

// Issue 14.4: one definition of a leak. The agent's stderr line, `summary` and the page give
// the same number of leaked objects and cycles for the same report.
TEST_F(ReportToolTest, TheAgentTheSummaryAndThePageCountTheSameLeaks) {
  for (const auto& [sample, args] :
       {std::pair{"leaky_document", "3 2"}, std::pair{"leaky_event_bus", ""},
        std::pair{"leaky_tree", "2 3"}}) {
    const std::string path = dir_ + "/" + sample + "-counted.json";
    ProgramRun run = run_shell("cd '" + dir_ + "' && ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD='" +
                               CYCLEGC_PRELOAD_PREFIX + CYCLEGC_AGENT +
                               "' CYCLEGC_OPTIONS='report_path=" + path + "' " +
                               CYCLEGC_SAMPLES_DIR + "/" + sample + " " + args);
    ASSERT_EQ(run.status, 0) << run.output;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(
        run.output, m, std::regex("cyclegc: ([0-9]+) leaked objects \\(([0-9]+) cycles\\)")))
        << run.output;
    const std::string leaked = m[1], cycles = m[2];
    const auto summary = nlohmann::json::parse(tool("summary --format=json " + path).output);
    EXPECT_EQ(std::to_string(summary["leaked_objects"].get<int>()), leaked) << sample;
    EXPECT_THAT(tool("summary " + path).output, HasSubstr("\n" + leaked + " objects leaked\n"))
        << sample;
    EXPECT_THAT(tool("html " + path + " -o -").output,
                HasSubstr("<span id=\"leaked\">" + leaked + " leaked objects</span><span>" +
                          cycles + " cycles in "))
        << sample;
  }
}

TEST_F(ReportToolTest, ShowNamesEdgesLinesAndWhatBreakingTheClosingEdgeFrees) {
  const std::string report = report_of("gc_collect", "", "debug=saveall:");
  ProgramRun r = tool("show " + report + " c0");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("Graph(one).next -> Graph(two)"));
  EXPECT_THAT(r.output, HasSubstr("closing edge: Graph(three).next -> Graph(one)"));
  // A Graph is its name and one Ref (two words, as a shared_ptr).
  const std::size_t graph_bytes = sizeof(std::string) + 2 * sizeof(void*);
  EXPECT_THAT(r.output, HasSubstr("breaking it frees 3 objects (" +
                                  std::to_string(3 * graph_bytes) + " bytes)"));
  EXPECT_THAT(r.output, HasSubstr("samples/graph.h:"));
  ProgramRun object = tool("show " + report + " 0");
  EXPECT_THAT(object.output, HasSubstr("Graph(one) <Graph 0x"));
  EXPECT_THAT(object.output, HasSubstr("member of cycle c0"));
  EXPECT_EQ(tool("show " + report + " c9").status, 2);
}

TEST_F(ReportToolTest, ChainsGoHopByHopWithLabels) {
  const std::string report = report_of("gc_collect", "", "debug=saveall:");
  ProgramRun r = tool("chains " + report + " 0");
  EXPECT_EQ(r.output,
            "Graph(one)\n  Graph(one).next -> Graph(two)\n  Graph(two).next -> Graph(three)\n"
            "  Graph(three).next -> Graph(one)\n");
  const std::string bus = report_of("leaky_event_bus", "");
  ProgramRun holders = tool("chains --stacks " + bus);
  EXPECT_THAT(holders.output, HasSubstr("Widget(clock)\n  held directly by untraced references"));
}

TEST_F(ReportToolTest, DiffFindsLeaksAddedBetweenRuns) {
  const std::string before = report_of("leaky_tree", "1 4");
  const std::string after = report_of("leaky_tree", "3 4");
  ProgramRun grew = tool("diff " + before + " " + after);
  EXPECT_THAT(grew.output, ::testing::ContainsRegex("grew leak shape:[0-9a-f]{16}: 1 -> 3"));
  // A shape is named by its types and fields, and its fix.
  EXPECT_THAT(grew.output, HasSubstr(": 1 -> 3 (TreeNode -children[]-> TreeNode, TreeNode "
                                     "-parent-> TreeNode; fix: make TreeNode::parent a Weak)"));
  const std::string with_bus = report_of("leaky_event_bus", "");
  ProgramRun added = tool("diff --fail-on-leak " + before + " " + with_bus);
  EXPECT_EQ(added.status, 1);
  EXPECT_THAT(added.output, HasSubstr("new leak site:Widget@main (leaky_event_bus.cc:"));
  ProgramRun same = tool("diff --fail-on-leak " + after + " " + after);
  EXPECT_EQ(same.status, 0);
  EXPECT_THAT(same.output, HasSubstr("nothing new or grown"));
}

TEST_F(ReportToolTest, SuppressionsAndBaselineGateFailOnLeak) {
  const std::string tree = report_of("leaky_tree", "2 3");
  EXPECT_EQ(tool("summary --fail-on-leak " + tree).status, 1);
  const std::string supp = write("supp.txt", "type:TreeNode\n");
  EXPECT_EQ(tool("summary --fail-on-leak --suppressions=" + supp + " " + tree).status, 0);
  const std::string frame_supp = write("frames.txt", "frame:leaky_tree.cc\n");
  EXPECT_EQ(tool("summary --fail-on-leak --suppressions=" + frame_supp + " " + tree).status, 0);

  const std::string baseline = dir_ + "/baseline.txt";
  EXPECT_EQ(tool("baseline write " + tree + " " + baseline).status, 0);
  // A later run of the same program, at other addresses: nothing new.
  const std::string again = report_of("leaky_tree", "5 3");
  ProgramRun known = tool("baseline check " + again + " " + baseline);
  EXPECT_EQ(known.status, 0) << known.output;
  const std::string bus = report_of("leaky_event_bus", "");
  ProgramRun fresh = tool("baseline check " + bus + " " + baseline);
  EXPECT_EQ(fresh.status, 1);
  EXPECT_THAT(fresh.output, HasSubstr("new leak: site:Widget@main"));
}

TEST_F(ReportToolTest, DotOutputRendersWithGraphviz) {
  if (!fs::exists("/usr/bin/dot")) GTEST_SKIP() << "graphviz (dot) is not installed";
  const std::string report = report_of("leaky_tree", "2 2");
  ProgramRun r = tool("dot " + report + " > " + dir_ + "/g.dot && dot -Tsvg " + dir_ +
                      "/g.dot -o " + dir_ + "/g.svg && cat " + dir_ + "/g.dot");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("label=\"parent\", color=red"));  // the closing edge
  std::ifstream svg(dir_ + "/g.svg");
  std::stringstream text;
  text << svg.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("<svg"));
  EXPECT_THAT(text.str(), HasSubstr("TreeNode(doc0)"));
  EXPECT_EQ(tool("dot " + report + " c0").status, 0);
  EXPECT_EQ(tool("dot " + report + " 1").status, 0);
}

TEST_F(ReportToolTest, APageLinkOpensItsFinding) {
  const char* browser = "/usr/bin/chromium";
  if (!fs::exists(browser))
    GTEST_SKIP() << "chromium is not installed: the browser test did not run";
  const std::string report = report_of("leaky_tree", "2 3");
  const std::string page = dir_ + "/page.html";
  ASSERT_EQ(tool("html " + report + " -o " + page).status, 0);
  // Load the page with the first finding opened through its link, and read what it shows.
  ProgramRun dom = run_shell(std::string(browser) +
                             " --headless --no-sandbox --disable-gpu --no-first-run"
                             " --disable-background-networking --user-data-dir=" +
                             dir_ + "/profile --virtual-time-budget=2000 --dump-dom 'file://" +
                             page + "#open=finding-0' 2>/dev/null");
  ASSERT_EQ(dom.status, 0) << dom.output;
  EXPECT_THAT(dom.output, ::testing::ContainsRegex("<details class=\"finding\" id=\"finding-0\" "
                                                   "open=\"\">"));
  EXPECT_THAT(dom.output, HasSubstr("2 × cycle of 4 TreeNode"));
  EXPECT_THAT(dom.output,
              HasSubstr("Closing edge: <code>TreeNode(para0).parent -&gt; TreeNode(doc0)"));
  EXPECT_THAT(dom.output, HasSubstr("<div class=\"cycle\"><svg"));
}

// A dense cycle (a broker and five clients, each client pointing back at the broker and at two
// other clients: 6 nodes, 20 edges) and a pair of sessions a lambda keeps alive, on a page that
// a browser opens and clicks through (tests/browser/click_page.mjs, puppeteer-core driving
// chromium).
cyclegc::report::Report dense_and_live_report() {
  using namespace cyclegc::testing;
  cyclegc::report::Report r = empty_report();
  cyclegc::report::Cycle dense;
  dense.id = 0;
  const int broker = add_object(r, "Broker");
  dense.members.push_back(broker);
  for (int i = 0; i < 5; ++i) dense.members.push_back(add_object(r, "Client"));
  for (int i = 0; i < 5; ++i) {
    const int c = dense.members[1 + i];
    r.edges.push_back({broker, c, absl::StrCat("clients[", i, "]")});
    r.edges.push_back({c, broker, "broker"});
    r.edges.push_back({c, dense.members[1 + (i + 1) % 5], "next"});
    r.edges.push_back({c, dense.members[1 + (i + 2) % 5], "peers[0]"});
  }
  for (int m : dense.members) r.objects[m].refcount = m == broker ? 5 : 3;
  dense.closing_edge = {dense.members[5], broker, "broker"};
  dense.shape = "00000000000000d5";
  r.collectable = dense.members;
  r.cycles.push_back(dense);

  cyclegc::report::Cycle live;
  live.id = 1;
  const int a = add_object(r, "Session", 2), b = add_object(r, "Session", 2);
  r.edges.push_back({a, b, "peer"});
  r.edges.push_back({b, a, "peer"});
  r.objects[a].untraced_refs = 1;
  r.objects[a].refcount = 2;
  r.untraced = {a};
  live.members = {a, b};
  live.closing_edge = {b, a, "peer"};
  live.shape = "00000000000000aa";
  r.cycles.push_back(live);
  return r;
}

TEST_F(ReportToolTest, APersonClicksAFindingOpenAndReadsItsFixAndDrawing) {
  const std::string browser_dir = CYCLEGC_BROWSER_DIR;
  if (!fs::exists("/usr/bin/chromium") || !fs::exists(browser_dir + "/node_modules/puppeteer-core"))
    GTEST_SKIP() << "chromium or puppeteer-core (npm ci in tests/browser) is missing: the "
                    "browser test did not run";
  const std::string report = write("dense.json", cyclegc::report::to_json(dense_and_live_report()));
  const std::string page = dir_ + "/dense.html";
  ASSERT_EQ(tool("html " + report + " -o " + page).status, 0);
  const std::string shot = dir_ + "/dense.png";
  auto click = [&](const std::string& finding, const std::string& query) {
    ProgramRun r = run_shell("node " + browser_dir + "/click_page.mjs " + page + " " + finding +
                             " " + query + " " + shot);
    EXPECT_EQ(r.status, 0) << r.output;
    return nlohmann::json::parse(r.output.substr(r.output.find('{')));
  };

  // The largest finding first: the dense cycle, closed until clicked.
  nlohmann::json seen = click("finding-0", "Session");
  EXPECT_EQ(seen["findings"], 3) << seen;  // the dense cycle, the live pair, the held session
  EXPECT_FALSE(seen["open_before"]);
  EXPECT_TRUE(seen["open_after"]);
  const std::string fix = seen["fix"];
  EXPECT_THAT(fix, HasSubstr("Client::next"));
  EXPECT_THAT(fix, HasSubstr("Client::peers"));
  EXPECT_THAT(fix, ::testing::StartsWith("Fix: make "));
  EXPECT_THAT(fix, HasSubstr("Weak — frees 1 cycle, 6 objects (288 bytes)"));
  EXPECT_EQ(seen["nodes"], 6);
  EXPECT_EQ(seen["edge_labels"], 20);
  EXPECT_EQ(seen["overlaps"].size(), 0u) << seen["overlaps"];
  EXPECT_GT(fs::file_size(shot), 10000u);
  if (const char* keep = std::getenv("CYCLEGC_KEEP_SCREENSHOT"))
    fs::copy_file(shot, keep, fs::copy_options::overwrite_existing);
  // Searching filters the findings to the two about sessions and says so.
  EXPECT_EQ(seen["visible_after_search"].size(), 2u) << seen;
  EXPECT_EQ(seen["search_line"], "2 of 3 findings match");

  // The live pair: what holds it, as a retainers tree that opens one retainer further.
  seen = click("finding-1", "nothing-matches-this");
  EXPECT_TRUE(seen["open_after"]);
  EXPECT_EQ(seen["overlaps"].size(), 0u) << seen["overlaps"];
  ASSERT_GE(seen["retainers"].size(), 2u) << seen;
  EXPECT_THAT(seen["retainers"][0].get<std::string>(), HasSubstr("1 untraced reference"));
  EXPECT_THAT(seen["retainers"][1].get<std::string>(), HasSubstr(".peer of Session(7)"));
  EXPECT_TRUE(seen["retainer_opened"]);
  EXPECT_EQ(seen["visible_after_search"].size(), 0u);
  EXPECT_EQ(seen["search_line"], "0 of 3 findings match");
}

// A report with a cycle of two sessions, an entry that only the cycle keeps alive (a hanger:
// garbage too, freed with the cycle) and objects the program still held at its end.
constexpr const char* kHangerReport = R"json({"schema":"cyclegc-report","version":1,
 "process":{"pid":1,"executable":"app","options":"","stack_method":"off","reason":"exit",
            "time":"2026-12-03T00:00:00Z"},
 "collections":[],
 "objects":[
  {"id":0,"type":"Session","address":"0x10","size":64,"label":"Session(a)","generation":-1,
   "stack":-1,"refcount":1,"untraced_refs":0,"suppressed":false},
  {"id":1,"type":"Session","address":"0x20","size":64,"label":"Session(b)","generation":-1,
   "stack":-1,"refcount":1,"untraced_refs":0,"suppressed":false},
  {"id":2,"type":"Entry","address":"0x30","size":32,"label":"Entry(user12)","generation":-1,
   "stack":-1,"refcount":1,"untraced_refs":0,"suppressed":false}],
 "stacks":[],
 "edges":[{"from":0,"to":1,"label":"peer"},{"from":1,"to":0,"label":"peer"},
          {"from":0,"to":2,"label":"entries[0]"}],
 "collectable":[0,1,2],"uncollectable":[],"saved_garbage":[],"untraced":[],"held_by_leaks":[],
 "cycles":[{"id":0,"members":[0,1],"closing_edge":{"from":1,"to":0,"label":"peer"},
            "shape":"00000000000000ab"}],
 "chains":[{"object":2,"kind":"cycle","hops":[{"from":0,"to":2,"label":"entries[0]"}]}],
 "live":[],
 "still_reachable":[{"kind":"stack","holder":"main thread","count":1200,"bytes":96000},
                    {"kind":"global","holder":"g_sessions","count":50,"bytes":4000}]})json";

// Two cycles of one shape, one garbage and one that a lambda keeps alive: different fixes
// (the garbage one the collector frees; the live one nothing does), so two findings.
constexpr const char* kGarbageAndLiveReport = R"json({"schema":"cyclegc-report","version":2,
 "process":{"pid":1,"executable":"app","options":"","stack_method":"off","reason":"exit",
            "time":"2026-12-03T00:00:00Z"},
 "collections":[],
 "objects":[
  {"id":0,"type":"Pair","address":"0x10","size":16,"label":"Pair(a)","generation":-1,
   "stack":-1,"refcount":1,"untraced_refs":0,"suppressed":false},
  {"id":1,"type":"Pair","address":"0x20","size":16,"label":"Pair(b)","generation":-1,
   "stack":-1,"refcount":1,"untraced_refs":0,"suppressed":false},
  {"id":2,"type":"Pair","address":"0x30","size":16,"label":"Pair(c)","generation":2,
   "stack":-1,"refcount":2,"untraced_refs":1,"suppressed":false},
  {"id":3,"type":"Pair","address":"0x40","size":16,"label":"Pair(d)","generation":2,
   "stack":-1,"refcount":1,"untraced_refs":0,"suppressed":false}],
 "stacks":[],
 "edges":[{"from":0,"to":1,"label":"other"},{"from":1,"to":0,"label":"other"},
          {"from":2,"to":3,"label":"other"},{"from":3,"to":2,"label":"other"}],
 "collectable":[0,1],"uncollectable":[],"saved_garbage":[],"untraced":[2],"held_by_leaks":[3],
 "cycles":[{"id":0,"members":[0,1],"closing_edge":{"from":1,"to":0,"label":"other"},
            "shape":"00000000000000cd"},
           {"id":1,"members":[2,3],"closing_edge":{"from":3,"to":2,"label":"other"},
            "shape":"00000000000000cd"}],
 "chains":[],"live":[]})json";

TEST_F(ReportToolTest, GarbageAndLiveCyclesOfOneShapeAreSeparateFindings) {
  const std::string report = write("mixed.json", kGarbageAndLiveReport);
  ProgramRun r = tool("summary " + report);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("1 x cycle of 2 Pair — 2 objects, 32 bytes, collectable"));
  EXPECT_THAT(r.output, HasSubstr("1 x cycle of 2 Pair — 2 objects, 32 bytes, live: held by "
                                  "untraced references"));
  auto json = nlohmann::json::parse(tool("summary --format=json " + report).output);
  ASSERT_EQ(json["shapes"].size(), 2u);
  EXPECT_EQ(json["leaked_objects"], 4);
}

// Many objects held the same way (one type, one allocation site, held by untraced references)
// are one finding with a count, in summary and on the page.
TEST_F(ReportToolTest, ObjectsHeldTheSameWayAreOneFindingWithACount) {
  std::string objects, ids;
  for (int i = 0; i < 3; ++i) {
    absl::StrAppend(&objects, i ? "," : "", R"({"id":)", i,
                    R"(,"type":"Bus","address":"0x1","size":64,"label":"Bus","generation":2,)"
                    R"("stack":0,"refcount":1,"untraced_refs":1,"suppressed":false})");
    absl::StrAppend(&ids, i ? "," : "", i);
  }
  const std::string report = write(
      "buses.json",
      absl::StrCat(R"({"schema":"cyclegc-report","version":2,"process":{"pid":1,)"
                   R"("executable":"app","options":"","stack_method":"off","reason":"exit",)"
                   R"("time":"2026-12-03T00:00:00Z"},"collections":[],"objects":[)",
                   objects,
                   R"x(],"stacks":[{"id":0,"frames":[{"function":"leak_buses()","file":"bus.cc",)x"
                   R"("line":48}]}],"edges":[],"collectable":[],"uncollectable":[],)"
                   R"("saved_garbage":[],"untraced":[)",
                   ids, R"(],"cycles":[],"chains":[],"live":[]})"));
  ProgramRun summary = tool("summary " + report);
  ASSERT_EQ(summary.status, 0) << summary.output;
  EXPECT_THAT(
      summary.output,
      HasSubstr("  3 x Bus held by untraced references, allocated at leak_buses (bus.cc:48)"));
  const std::string page = tool("html " + report + " -o -").output;
  EXPECT_THAT(page, HasSubstr("3 &times; Bus held by untraced references"));
  EXPECT_EQ(page.find("id=\"finding-1\""), std::string::npos) << "one finding, not three";
}

// Members made by one stack are listed once, with a count: a tree of a root and four children
// shows two stacks, not five.
TEST_F(ReportToolTest, ThePageListsEachAllocationStackOnceWithItsMembers) {
  const std::string report = report_of("leaky_tree", "1 4");
  const std::string page = tool("html " + report + " -o -").output;
  EXPECT_THAT(page, HasSubstr("4 members made here: <code>TreeNode(para0)</code>, "
                              "<code>TreeNode(para1)</code>"));
  std::size_t stacks = 0;
  for (std::size_t at = 0; (at = page.find("<ol class=\"stack\">", at)) != std::string::npos; ++at)
    ++stacks;
  EXPECT_EQ(stacks, 2u);
}

// What the program still held at its end never fails CI.
// Counts near the cap add up to the cap, never wrap round to a small number.
TEST_F(ReportToolTest, StillReachableCountsSaturate) {
  const std::string report =
      write("huge.json",
            R"({"schema":"cyclegc-report","version":2,"process":{"pid":1,"executable":"app",)"
            R"("options":"","stack_method":"off","reason":"exit","time":"t"},"collections":[],)"
            R"("objects":[],"stacks":[],"edges":[],"collectable":[],"uncollectable":[],)"
            R"("saved_garbage":[],"untraced":[],"cycles":[],"chains":[],"live":[],)"
            R"("still_reachable":[{"kind":"global","holder":"a","count":18446744073709551615,)"
            R"("bytes":1},{"kind":"stack","holder":"b","count":5,"bytes":1}]})");
  ProgramRun r = tool("summary " + report);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("not leaks: 18446744073709551615 objects"));
}

// `summary cyclegc.*.json`: each report in turn, the worst status for all; JSON an array.
TEST_F(ReportToolTest, SummaryTakesSeveralReports) {
  const std::string tree = report_of("leaky_tree", "1 2");
  const std::string documents = report_of("leaky_document", "2 0");
  ProgramRun r = tool("summary --fail-on-leak " + tree + " " + documents);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cyclegc report " + tree));
  EXPECT_THAT(r.output, HasSubstr("cyclegc report " + documents));
  EXPECT_THAT(r.output, HasSubstr("fix: make TreeNode::parent a Weak"));
  EXPECT_THAT(r.output, HasSubstr("fix: make Page::doc a Weak"));
  auto json = nlohmann::json::parse(tool("summary --format=json " + tree + " " + documents).output);
  ASSERT_TRUE(json.is_array());
  EXPECT_EQ(json.size(), 2u);
  EXPECT_EQ(json[1]["report"], documents);
  // One unreadable report among them: its line and status, the others still summarised.
  ProgramRun bad = tool("summary " + tree + " " + write("bad.json", "{") + " " + documents);
  EXPECT_EQ(bad.status, 3);
  EXPECT_THAT(bad.output, HasSubstr("cyclegc report " + documents));
}

TEST_F(ReportToolTest, StillReachableObjectsNeverFailOnLeak) {
  const std::string report =
      write("held.json",
            R"({"schema":"cyclegc-report","version":2,"process":{"pid":1,"executable":"app",)"
            R"("options":"","stack_method":"off","reason":"exit","time":"2026-12-03T00:00:00Z"},)"
            R"("collections":[],"objects":[],"stacks":[],"edges":[],"collectable":[],)"
            R"("uncollectable":[],"saved_garbage":[],"untraced":[],"held_by_leaks":[],"cycles":[],)"
            R"("chains":[],"live":[],"still_reachable":[{"kind":"stack","holder":"main thread",)"
            R"("count":100000,"bytes":6400000}]})");
  ProgramRun r = tool("summary --fail-on-leak " + report);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("0 objects leaked"));
  EXPECT_THAT(r.output, HasSubstr("100000 from main thread (stack"));
}

TEST_F(ReportToolTest, ThePageShowsWhatACycleKeepsAliveAndWhatIsStillReachable) {
  const std::string report = write("hanger.json", kHangerReport);
  ProgramRun page = tool("html " + report + " -o -");
  ASSERT_EQ(page.status, 0) << page.output;
  EXPECT_THAT(page.output, HasSubstr("3 leaked objects"));
  EXPECT_THAT(page.output, HasSubstr("Keeps alive <code>Entry(user12)"));
  EXPECT_THAT(page.output, HasSubstr("via <code>Session(a).entries[0] -&gt; Entry(user12)"));
  EXPECT_THAT(page.output, HasSubstr("1250 still reachable, not leaks"));
  EXPECT_THAT(page.output, HasSubstr("<li>50 from <code>g_sessions</code> (global"));
  ProgramRun summary = tool("summary " + report);
  EXPECT_THAT(summary.output,
              HasSubstr("Still reachable at the program's end, not leaks: 1250 objects\n"
                        "    1200 from main thread (stack, 96000 bytes)\n"
                        "      50 from g_sessions (global, 4000 bytes)\n"));
  auto json = nlohmann::json::parse(tool("summary --format=json " + report).output);
  EXPECT_EQ(json["leaked_objects"], 3);
  EXPECT_EQ(json["still_reachable"][1]["holder"], "g_sessions");
}

TEST_F(ReportToolTest, BadReportsGetOneLineAndADistinctStatus) {
  const std::string good = report_of("leaky_tree", "1 1");
  std::ifstream in(good);
  std::stringstream text;
  text << in.rdbuf();
  const std::string truncated =
      write("truncated.json", text.str().substr(0, text.str().size() / 2));
  ProgramRun r = tool("summary " + truncated);
  EXPECT_EQ(r.status, 3);
  EXPECT_THAT(r.output, HasSubstr("truncated.json: not valid JSON at byte"));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1);
  EXPECT_EQ(tool("summary " + write("empty.json", "")).status, 3);
  ProgramRun version =
      tool("summary " + write("v9.json", R"({"schema":"cyclegc-report","version":9})"));
  EXPECT_EQ(version.status, 3);
  EXPECT_THAT(version.output, HasSubstr("$.version: this tool reads versions 1 to 2"));
  ProgramRun field =
      tool("summary " + write("f.json", R"({"schema":"cyclegc-report","version":1,"process":{}})"));
  EXPECT_THAT(field.output, HasSubstr("$.process.pid: missing"));
  EXPECT_EQ(tool("summary " + dir_ + "/missing.json").status, 4);
  EXPECT_EQ(tool("summary " + dir_).status, 4);
  EXPECT_EQ(tool("frobnicate x").status, 2);
  EXPECT_EQ(tool("summary").status, 2);
  EXPECT_EQ(tool("summary --bogus x").status, 2);
}

// Issue 12: every value of a report is untrusted. A cycle member id of INT_MAX once aborted every
// command; markup in any string once reached the HTML page unescaped.
TEST_F(ReportToolTest, HostileReportsNeitherAbortNorInjectMarkup) {
  std::ifstream in(report_of("leaky_tree", "1 1"));
  auto j = nlohmann::json::parse(in);
  const std::string evil = "<script>alert(1)</script>";
  for (auto& c : j["cycles"]) c["shape"] = evil;
  for (auto& o : j["objects"]) {
    o["type"] = evil;
    o["label"] = evil;
  }
  for (auto& e : j["edges"]) e["label"] = evil;
  for (auto& st : j["stacks"]) {
    for (auto& f : st["frames"]) {
      f["function"] = evil;
      f["file"] = evil;
    }
  }
  j["process"]["executable"] = evil;
  j["process"]["reason"] = evil;
  const std::string hostile = write("hostile.json", j.dump());
  ProgramRun html = tool("html " + hostile + " -o " + dir_ + "/page.html");
  EXPECT_EQ(html.status, 0) << html.output;
  std::ifstream page_in(dir_ + "/page.html");
  const std::string page(std::istreambuf_iterator<char>(page_in), {});
  EXPECT_THAT(page, Not(HasSubstr(evil)));
  EXPECT_THAT(page, HasSubstr("&lt;script&gt;"));

  // Nor may a value reach the terminal as a control sequence (ESC, BEL, a C1 control).
  auto k = j;
  for (auto& o : k["objects"]) {
    o["type"] = "T\x1b[31m\u009b";
    o["label"] = "L\x1b]0;title\x07";
  }
  for (auto& st : k["stacks"]) {
    for (auto& f : st["frames"]) f["file"] = "f\x1b[2J.cc";
  }
  const std::string controls = write("controls.json", k.dump());
  for (const std::string& command : {"summary " + controls, "chains --stacks " + controls,
                                     "show " + controls + " c0", "dot " + controls}) {
    ProgramRun r = tool(command);
    EXPECT_EQ(r.status, 0) << command << r.output;
    EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << command << r.output;
    EXPECT_EQ(r.output.find('\x07'), std::string::npos) << command;
    EXPECT_EQ(r.output.find("\xc2\x9b"), std::string::npos) << command;
  }

  for (int id : {2147483647, 2147483646, 1000000000}) {
    auto k = j;
    k["cycles"][0]["members"][0] = id;
    ProgramRun r = tool("summary " + write("ids.json", k.dump()));
    EXPECT_EQ(r.status, 3) << id << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
}

TEST_F(ReportToolTest, HelpForTheToolAndEachCommand) {
  ProgramRun r = tool("--help");
  EXPECT_EQ(r.status, 0);
  for (const char* command : {"summary", "show", "chains", "diff", "dot", "html", "baseline"}) {
    EXPECT_THAT(r.output, HasSubstr(std::string("  ") + command + " ")) << command;
    EXPECT_EQ(tool(std::string(command) + " --help").status, 0) << command;
  }
}

// Issue 12: output that never arrived is a failure. `baseline write` to a full disk printed
// success and exited 0; `summary` ignored errors on stdout.
TEST_F(ReportToolTest, OutputThatCannotBeWrittenIsAFailure) {
  const std::string report = report_of("leaky_tree", "1 1");
  ProgramRun baseline = tool("baseline write " + report + " /dev/full");
  EXPECT_EQ(baseline.status, 4) << baseline.output;
  EXPECT_THAT(baseline.output, HasSubstr("cannot write '/dev/full': No space left on device"));
  EXPECT_THAT(baseline.output, Not(HasSubstr("known leaks")));
  for (const char* command : {"summary ", "chains ", "dot "}) {
    // In a subshell, so that only stdout goes to /dev/full and stderr is read.
    ProgramRun r =
        run_shell("(" + std::string(CYCLEGC_REPORT) + " " + command + report + " > /dev/full)");
    EXPECT_EQ(r.status, 4) << command << r.output;
    EXPECT_THAT(r.output, HasSubstr("cannot write to standard output")) << command;
  }
  ProgramRun html = tool("html " + report + " -o /dev/full");
  EXPECT_EQ(html.status, 4) << html.output;
  // A failed write leaves the old baseline as it was: with writes capped at 0 bytes (and SIGXFSZ
  // ignored, so that write() fails with EFBIG), even root cannot write the new one.
  const std::string kept = write("kept.txt", "# known\nshape:1\n");
  ProgramRun capped = run_shell("trap '' XFSZ && ulimit -f 0 && " + std::string(CYCLEGC_REPORT) +
                                " baseline write " + report + " " + kept);
  EXPECT_EQ(capped.status, 4) << capped.output;
  EXPECT_THAT(capped.output, HasSubstr("File too large"));
  std::ifstream in(kept);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "# known\nshape:1\n");
}

// Issue 14: `--format json` was refused, `-o -` wrote a file named "-", there was no --version.
TEST_F(ReportToolTest, CommandLineTakesTheUsualSpellings) {
  const std::string report = report_of("leaky_tree", "1 1");
  ProgramRun spaced = tool("summary --format json " + report);
  EXPECT_EQ(spaced.status, 0) << spaced.output;
  EXPECT_EQ(spaced.output, tool("summary --format=json " + report).output);
  EXPECT_TRUE(nlohmann::json::accept(spaced.output)) << spaced.output;
  ProgramRun page =
      run_shell("cd '" + dir_ + "' && " + CYCLEGC_REPORT + " html " + report + " -o -");
  EXPECT_EQ(page.status, 0);
  EXPECT_THAT(page.output, HasSubstr("<!doctype html>"));
  EXPECT_FALSE(fs::exists(dir_ + "/-"));
  ProgramRun version = tool("--version");
  EXPECT_EQ(version.status, 0);
  EXPECT_THAT(version.output, ::testing::MatchesRegex("cyclegc-report [0-9]+\\.[0-9]+\\.[0-9]+ "
                                                      "\\(report format version 2\\)\n"));
}

// Found by the fuzzer: a chain whose hop starts at its own object (object 1 "kept alive by"
// object 1) made the page's walk of what an object keeps alive run until memory ran out.
TEST_F(ReportToolTest, AReportWhoseChainsLoopStillMakesAPage) {
  auto r = cyclegc::testing::empty_report();
  const int bus = cyclegc::testing::add_object(r, "Bus"),
            handler = cyclegc::testing::add_object(r, "Handler");
  r.edges.push_back({handler, bus, "bus"});
  r.objects[handler].untraced_refs = 1;
  r.untraced = {handler};
  r.held_by_leaks = {bus};
  r.chains.push_back({handler, "holder", -1, {{handler, bus, "bus"}}});
  const std::string report = write("loop.json", cyclegc::report::to_json(r));
  ProgramRun page =
      run_shell("ulimit -t 20; " + std::string(CYCLEGC_REPORT) + " html " + report + " -o -");
  EXPECT_EQ(page.status, 0) << page.output.substr(0, 300);
  EXPECT_THAT(page.output, HasSubstr("Handler(1) held by 1 untraced reference"));
}

// Graphviz's layout grows much faster than its edges: a cycle of 40 objects each pointing at
// every other (1,560 labelled edges) took dot over two minutes. The page lays out only
// drawings it can afford and says how to draw the rest.
TEST_F(ReportToolTest, ADenseCycleDoesNotStallThePage) {
  auto r = cyclegc::testing::empty_report();
  cyclegc::report::Cycle c;
  c.id = 0;
  for (int i = 0; i < 40; ++i) c.members.push_back(cyclegc::testing::add_object(r, "Peer"));
  for (int from : c.members) {
    for (int to : c.members) {
      if (from != to) r.edges.push_back({from, to, absl::StrCat("peers[", to, "]")});
    }
    r.objects[from].refcount = 39;
  }
  c.closing_edge = r.edges.back();
  c.shape = "00000000000000dd";
  r.collectable = c.members;
  r.cycles.push_back(c);
  const std::string report = write("dense40.json", cyclegc::report::to_json(r));
  ProgramRun page =
      run_shell("ulimit -t 20; " + std::string(CYCLEGC_REPORT) + " html " + report + " -o -");
  EXPECT_EQ(page.status, 0) << page.output.substr(0, 300);
  EXPECT_THAT(page.output, HasSubstr("1560 edges: too dense to lay out here"));
  EXPECT_THAT(page.output, HasSubstr("cyclegc-report dot REPORT c0"));
}

// Issue 14.6: every subcommand's --format=json is JSON; help is per subcommand; a malformed
// suppressions file is bad input with a status of its own, not "file not readable".
TEST_F(ReportToolTest, EverySubcommandSpeaksJsonAndHasItsOwnHelp) {
  const std::string tree = report_of("leaky_tree", "1 2");
  const std::string baseline = dir_ + "/known.txt";
  ASSERT_EQ(tool("baseline write " + tree + " " + baseline).status, 0);
  for (const std::string& command :
       {"summary " + tree, "show " + tree + " c0", "show " + tree + " 0", "chains " + tree,
        "chains " + tree + " 1", "diff " + tree + " " + tree, "dot " + tree,
        "baseline check " + tree + " " + baseline}) {
    for (const char* spelling : {" --format=json", " --format json"}) {
      ProgramRun r = tool(command + spelling);
      EXPECT_EQ(r.status, 0) << command << spelling << ": " << r.output;
      EXPECT_TRUE(nlohmann::json::accept(r.output)) << command << spelling << ": " << r.output;
    }
  }
  const auto show = nlohmann::json::parse(tool("show --format=json " + tree + " c0").output);
  EXPECT_EQ(show["cycle"], 0);
  EXPECT_EQ(show["fixes"][0]["fields"][0], "TreeNode::parent");
  EXPECT_EQ(show["members"].size(), 3u);
  const auto chains = nlohmann::json::parse(tool("chains --format=json " + tree + " 1").output);
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(chains[0]["object"], 1);
  const auto check =
      nlohmann::json::parse(tool("baseline check --format=json " + tree + " " + baseline).output);
  EXPECT_EQ(check["new"].size(), 0u);
  const auto dot = nlohmann::json::parse(tool("dot --format=json " + tree).output);
  EXPECT_EQ(dot["nodes"].size(), 3u);
  EXPECT_EQ(dot["edges"].size(), 4u);

  ProgramRun help = tool("chains --help");
  EXPECT_EQ(help.status, 0);
  EXPECT_THAT(help.output, HasSubstr("--stacks"));
  EXPECT_THAT(tool("summary --help").output, Not(HasSubstr("--stacks")));
  ProgramRun stray = tool("summary --stacks " + tree);
  EXPECT_EQ(stray.status, 2) << stray.output;
  EXPECT_EQ(std::count(stray.output.begin(), stray.output.end(), '\n'), 1) << stray.output;

  const std::string bad = write("bad-supp.txt", "type:Ok\nthis is not a suppression\n");
  for (const std::string& spelling : {"--suppressions=" + bad, "--suppressions " + bad}) {
    ProgramRun r = tool("summary " + spelling + " " + tree);
    EXPECT_EQ(r.status, 5) << r.output;
    EXPECT_THAT(r.output, HasSubstr("line 2: expected type:NAME, frame:TEXT or shape:ID"));
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  EXPECT_EQ(tool("summary --suppressions=" + dir_ + "/missing.txt " + tree).status, 4);
}

// Issue 12: a FIFO as REPORT (or as baseline) blocked the reader; a device was read without end.
TEST_F(ReportToolTest, AFifoOrDeviceAsInputFailsAtOnce) {
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& input : {fifo, std::string("/dev/zero")}) {
    ProgramRun r = tool("summary " + input);
    EXPECT_EQ(r.status, 4) << r.output;
    EXPECT_THAT(r.output, HasSubstr("is not a regular file"));
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  ProgramRun check = tool("baseline check " + report_of("leaky_tree", "1 1") + " " + fifo);
  EXPECT_EQ(check.status, 4) << check.output;
}

// The heavy checks below bound the tool's memory with `ulimit -v`, which ASan's shadow memory
// does not survive; the sanitizer tree runs them smaller and without the limit.
bool sanitized() { return !std::string(CYCLEGC_PRELOAD_PREFIX).empty(); }
std::string within(std::size_t megabytes) {
  return sanitized() ? "" : "ulimit -v " + std::to_string(megabytes << 10) + " && ";
}

// Issue 12: a file of NUL bytes was read whole (2 GB: 4.2 GB of memory and 31 s) before failing
// at byte 1. Now the first byte that cannot start a report ends the reading.
TEST_F(ReportToolTest, ANonJsonFileFailsAtItsFirstByteWithoutBeingReadWhole) {
  const std::string zeros = dir_ + "/zeros.json";
  { std::ofstream(zeros).put('\0'); }
  ASSERT_EQ(truncate(zeros.c_str(), off_t{3} << 30), 0);  // sparse: 3 GB that cost no disk
  ProgramRun r = run_shell(within(1024) + CYCLEGC_REPORT + " summary " + zeros);
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_THAT(r.output, HasSubstr("not valid JSON at byte 0: expected '{', found byte 0x00"));
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

// Issue 12: reading took ~12 times the file in memory (a 1M-object report: 3 GB); a 100k-object
// cycle made a 92 MB page no browser renders. A million-object report is read, summarised and
// paged within 1 GB, and the page summarises the cycle instead of drawing it.
TEST_F(ReportToolTest, AMillionObjectReportIsReadAndPagedInBoundedMemory) {
  const int n = sanitized() ? 100000 : 1000000;
  cyclegc::report::Report big = cyclegc::testing::empty_report();
  cyclegc::testing::add_garbage_ring(big, n - 3000);
  cyclegc::testing::add_garbage_ring(big, 3, 2000, "Small");
  cyclegc::testing::add_untraced_holders(big, 499);
  for (int i = 0; i < 600; ++i)
    cyclegc::testing::add_garbage_ring(big, 1, 0, "S" + std::to_string(i));
  const std::string path = dir_ + "/big.json";
  {
    std::ofstream out(path);
    cyclegc::report::to_json(
        big, [&](std::string_view piece) { out.write(piece.data(), piece.size()); });
  }
  ProgramRun summary = run_shell(within(1024) + CYCLEGC_REPORT + " summary " + path);
  EXPECT_EQ(summary.status, 0) << summary.output.substr(0, 2000);
  EXPECT_THAT(summary.output,
              HasSubstr(std::to_string(big.objects.size() - 499) + " objects leaked"));
  ProgramRun html =
      run_shell(within(1024) + CYCLEGC_REPORT + " html " + path + " -o " + dir_ + "/big.html");
  EXPECT_EQ(html.status, 0) << html.output;
  EXPECT_LT(fs::file_size(dir_ + "/big.html"), std::uintmax_t{1} << 20);
  std::ifstream in(dir_ + "/big.html");
  const std::string page(std::istreambuf_iterator<char>(in), {});
  EXPECT_THAT(page, HasSubstr("A cycle of " + std::to_string(n - 3000) + " objects"));
  EXPECT_THAT(page, HasSubstr("too many to draw"));
  EXPECT_THAT(page, HasSubstr("<svg"));               // small cycles are still drawn
  EXPECT_THAT(page, HasSubstr("more cycle shapes"));  // 602 shapes: the largest are listed
}

}  // namespace
