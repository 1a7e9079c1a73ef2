// Runs programs under LD_PRELOAD=libcyclegc_agent.so and checks the reports they leave, read
// through the report schema's own reader.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "agent_fixture.h"
#include "cyclegc_report/report.h"
#include "sample_source.h"
#include "subprocess.h"

namespace {

namespace fs = std::filesystem;
using cyclegc::testing::AgentTest;
using cyclegc::testing::ProgramRun;
using ::testing::HasSubstr;
using ::testing::Not;

int alloc_line(const std::string& sample, const std::string& marker) {
  return cyclegc::testing::alloc_line(std::string(CYCLEGC_SAMPLES_SOURCE_DIR) + "/" + sample,
                                      marker);
}

const cyclegc::report::Object& object(const cyclegc::report::Report& r, int id) {
  return *std::find_if(r.objects.begin(), r.objects.end(),
                       [id](const auto& o) { return o.id == id; });
}

bool allocated_at(const cyclegc::report::Report& r, const cyclegc::report::Object& o,
                  const std::string& file, int line) {
  if (o.stack < 0) return false;
  for (const auto& f : r.stacks[o.stack].frames) {
    if (f.file.size() >= file.size() && f.file.ends_with("/" + file) && f.line == line) return true;
  }
  return false;
}

TEST_F(AgentTest, TreeCyclesComeWithLabelsClosingEdgeAndAllocationLines) {
  ProgramRun r = run_sample("leaky_tree", "3 4", "report_path=report.json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto report = read_report("report.json");
  EXPECT_EQ(report.process.reason, "exit");
#if defined(__SANITIZE_ADDRESS__)
  // ASan's instrumentation breaks the frame-pointer chain; the recorder notices and unwinds.
  EXPECT_EQ(report.process.stack_method, "unwind");
#else
  EXPECT_EQ(report.process.stack_method, "frame-pointer");  // the build keeps frame pointers
#endif
  ASSERT_EQ(report.cycles.size(), 3u);
  EXPECT_EQ(report.collectable.size(), 15u);
  const int root_line = alloc_line("leaky_tree.cc", "tree-root");
  const int child_line = alloc_line("leaky_tree.cc", "tree-child");
  for (const auto& cycle : report.cycles) {
    ASSERT_EQ(cycle.members.size(), 5u);
    EXPECT_EQ(cycle.shape, report.cycles[0].shape) << "identical trees share one shape";
    std::set<std::string> labels;
    for (const auto& e : cycle.edges) labels.insert(e.label);
    EXPECT_TRUE(labels.count("parent"));
    EXPECT_TRUE(labels.count("children[0]"));
    // The walk starts at the root (made first); the back-pointer to it closes the cycle.
    const auto& root = object(report, cycle.members.front());
    EXPECT_THAT(root.label, ::testing::StartsWith("TreeNode(doc"));
    EXPECT_EQ(cycle.closing_edge.label, "parent");
    EXPECT_EQ(cycle.closing_edge.to, root.id);
    EXPECT_TRUE(allocated_at(report, root, "leaky_tree.cc", root_line));
    for (std::size_t i = 1; i < cycle.members.size(); ++i) {
      EXPECT_TRUE(
          allocated_at(report, object(report, cycle.members[i]), "leaky_tree.cc", child_line));
    }
  }
  ASSERT_EQ(report.chains.size(), 15u);
  for (const auto& chain : report.chains) {  // every member's chain is its cycle
    EXPECT_EQ(chain.kind, "cycle");
    ASSERT_GE(chain.cycle, 0);
    const auto& members = report.cycles[chain.cycle].members;
    EXPECT_NE(std::find(members.begin(), members.end(), chain.object), members.end());
  }
  EXPECT_THAT(r.output, HasSubstr("cyclegc: collectable <TreeNode 0x"));
  EXPECT_THAT(
      r.output,
      HasSubstr("allocated at add_child (leaky_tree.cc:" + std::to_string(child_line) + ")"));
  EXPECT_THAT(r.output, HasSubstr("15 leaked objects (3 cycles)"));
}

// Issues 13/14: `cyclegc::Ref<T> make_looped<T>()`, a factory template of the program's, was
// taken for a frame of cyclegc's (its demangled name begins with the return type) and left out,
// so the object seemed allocated in main.
TEST_F(AgentTest, AFactoryReturningARefIsTheAllocationSite) {
  ProgramRun r = run(CYCLEGC_HOST_PROGRAM, "factory", "summary=0:report_path=r.json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto report = read_report("r.json");
  ASSERT_EQ(report.objects.size(), 1u);
  const int stack = report.objects[0].stack;
  ASSERT_GE(stack, 0);
  ASSERT_FALSE(report.stacks[stack].frames.empty());
  EXPECT_THAT(cyclegc::report::site_text(report.stacks[stack].frames[0]),
              ::testing::StartsWith("(anonymous namespace)::make_looped<"));
}

// At -O2 the helpers that call make<> are inlined: the first frame is still the make<> line,
// then each inlined caller, innermost first, as gdb and LeakSanitizer show them.
TEST_F(AgentTest, AnInlinedMakeIsReportedAtItsOwnLineWithTheInlineChain) {
  ProgramRun r = run(CYCLEGC_INLINE_PROGRAM, "", "summary=0:report_path=r.json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto report = read_report("r.json");
  ASSERT_EQ(report.objects.size(), 2u);
  const std::string source = std::string(CYCLEGC_AGENT_TEST_SOURCE_DIR) + "/inline_program.cc";
  for (const auto& o : report.objects) {
    ASSERT_GE(o.stack, 0);
    const auto& frames = report.stacks[o.stack].frames;
    ASSERT_GE(frames.size(), 3u);
    EXPECT_THAT(frames[0].function, HasSubstr("new_node"));
    EXPECT_EQ(frames[0].line, cyclegc::testing::alloc_line(source, "inlined-make"));
    EXPECT_THAT(frames[1].function, HasSubstr("make_pair_cycle"));
    EXPECT_EQ(frames[2].function, "main");
    EXPECT_EQ(frames[2].line, cyclegc::testing::alloc_line(source, "outer-caller"));
    for (int i = 0; i < 3; ++i) EXPECT_THAT(frames[i].file, HasSubstr("inline_program.cc"));
  }
}

// Still reachable is not leaked (Valgrind's distinction): a program that std::exits deep in its
// call stack still holds, from main's frame, a 100,000-node ring and a vector of 2,000 results,
// and from a global map 50 sessions. None of them is a leak, and none fails exitcode.
TEST_F(AgentTest, WhatTheProgramStillHoldsAtExitIsStillReachableNotLeaked) {
  ProgramRun r = run(CYCLEGC_EXIT_HOLDING_PROGRAM, "100000 0", "report_path=r.json:exitcode=23");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cyclegc: 0 leaked objects"));
  EXPECT_THAT(r.output, HasSubstr("102050 objects still reachable at the program's end, not "
                                  "leaks: 102000 from main thread, 50 from g_sessions"));
  const auto report = read_report("r.json");
  EXPECT_TRUE(report.objects.empty()) << report.objects.size() << " objects reported";
  EXPECT_TRUE(report.cycles.empty());
  std::map<std::string, std::uint64_t> held;
  for (const auto& g : report.still_reachable) held[g.kind + " " + g.holder] += g.count;
  EXPECT_EQ(held["stack main thread"], 102000u);
  EXPECT_EQ(held["global g_sessions"], 50u);
}

// ...and what it does leak stays leaked: buses whose handlers (std::function) capture the bus,
// and the connections only those buses keep alive, all counted, with what it still holds beside.
TEST_F(AgentTest, LeaksHeldByLambdasStayLeaksBesideWhatIsStillReachable) {
  ProgramRun r = run(CYCLEGC_EXIT_HOLDING_PROGRAM, "1000 3", "report_path=r.json:exitcode=23");
  EXPECT_EQ(r.status, 23) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cyclegc: 6 leaked objects (0 cycles): 0 collectable, 0 saved "
                                  "garbage, 0 uncollectable, 3 held by untraced references, 3 "
                                  "kept alive by leaked objects"));
  EXPECT_THAT(r.output, HasSubstr("3050 objects still reachable"));
  const auto report = read_report("r.json");
  ASSERT_EQ(report.objects.size(), 6u);
  ASSERT_EQ(report.untraced.size(), 3u);
  ASSERT_EQ(report.held_by_leaks.size(), 3u);
  std::map<int, std::string> type;
  for (const auto& o : report.objects) type[o.id] = o.type;
  for (int id : report.untraced) EXPECT_EQ(type[id], "Bus");
  for (int id : report.held_by_leaks) EXPECT_EQ(type[id], "Connection");
}

// What is uncollectable is the collector's word, not the report's guess: under the legacy
// policy a finalizer makes uncollectable everything it reaches, in a cycle or not.
TEST_F(AgentTest, UncollectableObjectsAreThoseTheCollectorNamed) {
  ProgramRun r = run(CYCLEGC_LEGACY_PROGRAM, "", "report_path=r.json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto report = read_report("r.json");
  EXPECT_EQ(report.uncollectable.size(), 3u);
  EXPECT_TRUE(report.collectable.empty());
  std::uint64_t said = 0;
  for (const auto& c : report.collections) said += c.uncollectable;
  EXPECT_EQ(said, 3u);
  EXPECT_THAT(r.output, HasSubstr("0 collectable, 0 saved garbage, 3 uncollectable"));
}

// A stack ends at the program's own outermost frame: the C runtime's start-up (_start,
// __libc_start_main and what it calls) says nothing a reader could act on.
TEST_F(AgentTest, StacksEndAtTheProgramsOwnFrames) {
  ProgramRun r = run_sample("leaky_tree", "2 2", "summary=0:report_path=r.json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto report = read_report("r.json");
  ASSERT_FALSE(report.stacks.empty());
  for (const auto& stack : report.stacks) {
    ASSERT_FALSE(stack.frames.empty());
    EXPECT_EQ(stack.frames.back().function, "main");
    for (const auto& f : stack.frames) {
      EXPECT_THAT(f.function, Not(HasSubstr("libc_start"))) << f.file;
      EXPECT_NE(f.function, "_start");
    }
  }
}

TEST_F(AgentTest, HandlersCapturingTheirOwnerAreHeldByUntracedReferences) {
  ProgramRun r = run_sample("leaky_event_bus", "", "report_path=report.json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto report = read_report("report.json");
  ASSERT_EQ(report.untraced.size(), 2u);
  std::set<std::string> labels;
  for (int id : report.untraced) {
    const auto& widget = object(report, id);
    labels.insert(widget.label);
    EXPECT_EQ(widget.untraced_refs, 1u);
    EXPECT_EQ(widget.refcount, 1u);
    EXPECT_TRUE(allocated_at(report, widget, "leaky_event_bus.cc",
                             alloc_line("leaky_event_bus.cc", "widget")));
  }
  EXPECT_EQ(labels, (std::set<std::string>{"Widget(clock)", "Widget(status)"}));
  EXPECT_TRUE(report.cycles.empty());  // the cycle runs through a std::function: unseen
  // The bus is reached from a widget over the traced edge "bus".
  auto bus = std::find_if(report.chains.begin(), report.chains.end(), [&](const auto& c) {
    return object(report, c.object).label == "EventBus";
  });
  ASSERT_NE(bus, report.chains.end());
  EXPECT_EQ(bus->kind, "holder");
  ASSERT_EQ(bus->hops.size(), 1u);
  EXPECT_EQ(bus->hops[0].label, "bus");
  EXPECT_THAT(r.output, HasSubstr("cyclegc: held by 1 untraced reference: <Widget 0x"));
  for (int id : report.untraced) EXPECT_GE(object(report, id).generation, 0) << "live objects";
}

TEST_F(AgentTest, PeriodicReportsShowACacheGrowing) {
  // About 120 ms of work, a report every 15 ms: several periodic reports, then the exit one.
  ProgramRun r = run_sample("leaky_cache", "6000", "interval_ms=15:report_path=report.%n.json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto names = files();
  ASSERT_GE(names.size(), 3u) << "expected periodic reports and one at exit";
  auto entries = [&](const std::string& name) {
    std::uint64_t count = 0;
    for (const auto& g : read_report(name).live) {
      if (g.type == "Entry") count += g.count;
    }
    return count;
  };
  auto first = read_report("report.0.json");
  EXPECT_EQ(first.process.reason, "interval");
  // The largest, not the last: a periodic report may come after main() has returned and its
  // cache is gone, before the exit report.
  std::uint64_t largest = 0;
  for (std::size_t i = 1; i + 1 < names.size(); ++i) {
    largest = std::max(largest, entries("report." + std::to_string(i) + ".json"));
  }
  EXPECT_LT(entries("report.0.json"), largest);
  EXPECT_EQ(read_report("report." + std::to_string(names.size() - 1) + ".json").process.reason,
            "exit");
}

TEST_F(AgentTest, DumpSignalWritesAReportAndTheProgramRunsOn) {
  ProgramRun r =
      run_sample("leaky_cache", "1000 --signal", "dump_signal=SIGUSR1:report_path=r.%n.json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cache holds 1000 entries"));
  EXPECT_EQ(read_report("r.0.json").process.reason, "signal");
  EXPECT_EQ(read_report("r.1.json").process.reason, "exit");
}

TEST_F(AgentTest, MalformedOptionsWarnOnceEachAndKeepDefaults) {
  ProgramRun r = run_sample("leaky_tree", "1 1", "stack_depth=abc:bogus=1:report_path=r.json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cyclegc: ignoring option 'stack_depth=abc': stack_depth takes "
                                  "an integer in [0, 64]; keeping the default\n"));
  EXPECT_THAT(r.output, HasSubstr("cyclegc: ignoring unknown option 'bogus=1'"));
  auto report = read_report("r.json");
  EXPECT_NE(object(report, report.collectable.front()).stack, -1) << "default depth applies";
}

TEST_F(AgentTest, HelpListsEveryOptionWithItsDefault) {
  ProgramRun r = run_sample("gc_get_threshold", "", "help=1");
  for (const char* option : {"help", "debug", "report_path", "stack_depth", "dump_signal",
                             "interval_ms", "exitcode", "suppressions", "summary"}) {
    EXPECT_THAT(r.output, HasSubstr(std::string("  ") + option + "\t")) << option;
  }
  EXPECT_THAT(r.output, HasSubstr("(700, 10, 10)"));  // and the program ran
}

TEST_F(AgentTest, UnwritableReportPathIsOneErrorLineAndTheProgramRunsOn) {
  ProgramRun r = run_sample("leaky_tree", "1 1", "report_path=/nonexistent/dir/r.json");
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("cyclegc: cannot create report '/nonexistent/dir/r.json': "
                                  "No such file or directory\n"));
  EXPECT_THAT(r.output, HasSubstr("built 1 documents"));
}

TEST_F(AgentTest, ReportsArePrivateAndLinksAreNotFollowed) {
  { std::ofstream(dir_ + "/target") << "keep"; }
  fs::create_symlink(dir_ + "/target", dir_ + "/r.json");
  ProgramRun r = run_sample("leaky_tree", "1 1", "report_path=r.json");
  ASSERT_EQ(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("is not a regular file; it is left as it is"));
  struct stat st;
  ASSERT_EQ(lstat((dir_ + "/r.json").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode)) << "the link was neither replaced nor written through";
  std::ifstream target(dir_ + "/target");
  std::string content;
  target >> content;
  EXPECT_EQ(content, "keep");
  ASSERT_EQ(run_sample("leaky_tree", "1 1", "report_path=new.json").status, 0);
  ASSERT_EQ(lstat((dir_ + "/new.json").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_FALSE(read_report("new.json").objects.empty());
}

TEST_F(AgentTest, ExitcodeFailsOnlyWhenSomethingLeaked) {
  EXPECT_EQ(run_sample("leaky_tree", "1 1", "exitcode=23").status, 23);
  EXPECT_EQ(run_sample("gc_get_threshold", "", "exitcode=23").status, 0);
}

TEST_F(AgentTest, SuppressionsSilenceMatchingLeaks) {
  { std::ofstream(dir_ + "/supp.txt") << "# known\ntype:TreeNode\n"; }
  ProgramRun r =
      run_sample("leaky_tree", "1 1", "exitcode=23:suppressions=supp.txt:report_path=r.json");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const auto& o : read_report("r.json").objects) EXPECT_TRUE(o.suppressed);
  // Every count leaves the suppressed out, and says how many they were (issue 14.4).
  EXPECT_THAT(r.output, HasSubstr("cyclegc: 0 leaked objects (0 cycles): 0 collectable, 0 saved "
                                  "garbage, 0 uncollectable, 0 held by untraced references; 2 "
                                  "suppressed"));
  { std::ofstream(dir_ + "/bad.txt") << "colour:blue\n"; }
  ProgramRun bad = run_sample("leaky_tree", "1 1", "suppressions=bad.txt");
  EXPECT_THAT(bad.output, HasSubstr("cyclegc: ignoring suppressions: bad.txt: line 1: unknown "
                                    "kind 'colour'"));
}

TEST_F(AgentTest, DebugFlagsReachTheCollector) {
  ProgramRun r = run_sample("leaky_tree", "1 1", "debug=stats+collectable:report_path=none");
  EXPECT_THAT(r.output, HasSubstr("gc: collecting generation 2..."));
  EXPECT_THAT(r.output, HasSubstr("gc: collectable <TreeNode 0x"));
  EXPECT_TRUE(files().empty()) << "report_path=none writes nothing";
}

TEST_F(AgentTest, WithoutTheAgentThereIsNoReportAndNoAgentOutput) {
  ProgramRun r =
      run(std::string(CYCLEGC_SAMPLES_DIR) + "/leaky_tree", "3 4", "", /*with_agent=*/false);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "built 3 documents of 5 nodes\n");
  EXPECT_TRUE(files().empty());
}

TEST_F(AgentTest, ForkedChildWritesItsOwnReport) {
  ProgramRun r = run(CYCLEGC_FORK_HELPER, "", "report_path=r.%p.json:summary=0");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto names = files();
  ASSERT_EQ(names.size(), 2u) << r.output;
  int child = 0;
  ASSERT_EQ(std::sscanf(r.output.c_str(), "child %d", &child), 1) << r.output;
  for (const auto& name : names) {
    auto report = read_report(name);
    // The child inherited the parent's cycle and made one of its own.
    EXPECT_EQ(report.cycles.size(), report.process.pid == child ? 2u : 1u) << name;
  }
}

// The stack recorder keeps no entry per freed object; an object made at a reused address must
// still be reported with its own allocation site.
TEST_F(AgentTest, AnObjectAtAReusedAddressHasItsOwnAllocationSite) {
  ProgramRun r = run(CYCLEGC_ADDRESS_REUSE_HELPER, "", "report_path=r.json:summary=0");
  ASSERT_EQ(r.status, 0) << r.output;
  if (r.output.find("same address: 1") == std::string::npos) {
    GTEST_SKIP() << "the allocator did not reuse the address (ASan quarantines freed memory)";
  }
  const auto report = read_report("r.json");
  ASSERT_EQ(report.objects.size(), 1u);
  const std::string source =
      std::string(CYCLEGC_AGENT_TEST_SOURCE_DIR) + "/address_reuse_helper.cc";
  const std::string file = "address_reuse_helper.cc";
  const int leaked = cyclegc::testing::alloc_line(source, "leaked");
  const int freed = cyclegc::testing::alloc_line(source, "freed");
  ASSERT_GT(leaked, 0);
  ASSERT_GT(freed, 0);
  EXPECT_TRUE(allocated_at(report, report.objects[0], file, leaked));
  EXPECT_FALSE(allocated_at(report, report.objects[0], file, freed));
}

TEST_F(AgentTest, StaticallyLinkedProgramGetsAWarning) {
  ProgramRun r = run(CYCLEGC_STATIC_PROGRAM, "", "");
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.output, HasSubstr("cyclegc: warning: this program links cyclegc statically"));
  EXPECT_THAT(r.output, HasSubstr("made a cycle"));
  EXPECT_TRUE(files().empty());
}

TEST_F(AgentTest, SecureExecutionKeepsTheAgentOut) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to make a setgid copy of a program";
  const std::string copy = dir_ + "/setgid_tree";
  fs::copy_file(std::string(CYCLEGC_SAMPLES_DIR) + "/leaky_tree", copy);
  ASSERT_EQ(chown(copy.c_str(), 0, 65534), 0);
  ASSERT_EQ(chmod(copy.c_str(), 02755), 0);  // setgid: the loader runs it in secure mode
  ProgramRun r = run(copy, "1 1", "report_path=r.json");
  EXPECT_THAT(r.output, HasSubstr("built 1 documents"));
  EXPECT_THAT(r.output, Not(HasSubstr("\ncyclegc: ")));
  EXPECT_EQ(r.output.rfind("cyclegc: ", 0), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ + "/r.json"));
}

}  // namespace
