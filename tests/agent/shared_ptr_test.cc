// The agent preloaded into plain std::shared_ptr programs that never link libcyclegc (issue 15):
// the samples/shared_ptr_*.cc programs and tests/agent/shared_ptr_program.cc's scenarios, each
// built with debug information and without. Before the heap analysis, the agent stayed idle in
// such programs: no report, no line, so every test here failed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent_fixture.h"
#include "cyclegc_report/report.h"
#include "sample_source.h"
#include "subprocess.h"

namespace {

using cyclegc::testing::AgentTest;
using cyclegc::testing::ProgramRun;
using ::testing::HasSubstr;
using ::testing::Not;
namespace report = cyclegc::report;

class SharedPtrTest : public AgentTest {
 protected:
  void SetUp() override {
    if (!CYCLEGC_HEAP_HOOKS) GTEST_SKIP() << "a sanitizer runtime owns malloc in this tree";
  }

  // Runs `program args` under the agent and reads its report (empty when none was written).
  report::Report analyze(const std::string& program, const std::string& args = "",
                         const std::string& options = "") {
    run_ = run(program, args, "report_path=r.json" + (options.empty() ? "" : ":" + options));
    EXPECT_EQ(run_.status, 0) << run_.output;
    if (!std::filesystem::exists(dir_ + "/r.json")) return {};
    return read_report("r.json");
  }
  static std::string sample(const std::string& name) {
    return std::string(CYCLEGC_SAMPLES_DIR) + "/" + name;
  }

  static std::vector<int> leaked(const report::Report& r) {
    std::vector<int> ids = r.held_by_leaks;
    ids.insert(ids.end(), r.untraced.begin(), r.untraced.end());
    ids.insert(ids.end(), r.collectable.begin(), r.collectable.end());
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  static std::multiset<std::string> leaked_types(const report::Report& r) {
    std::multiset<std::string> types;
    for (int id : leaked(r)) types.insert(object(r, id).type);
    return types;
  }
  static std::set<std::string> labels(const report::Report& r) {
    std::set<std::string> out;
    for (const auto& e : r.edges) out.insert(e.label);
    return out;
  }
  static const report::Object& object(const report::Report& r, int id) {
    return *std::find_if(r.objects.begin(), r.objects.end(),
                         [id](const auto& o) { return o.id == id; });
  }
  static bool allocated_at(const report::Report& r, int id, const std::string& file, int line) {
    const report::Object& o = object(r, id);
    if (o.stack < 0) return false;
    for (const auto& f : r.stacks[o.stack].frames) {
      if (f.file.ends_with("/" + file) && f.line == line) return true;
    }
    return false;
  }
  static int alloc_line(const std::string& sample, const std::string& marker) {
    return cyclegc::testing::alloc_line(std::string(CYCLEGC_SAMPLES_SOURCE_DIR) + "/" + sample,
                                        marker);
  }

  ProgramRun run_;
};

TEST_F(SharedPtrTest, ATreeWhoseChildrenHoldTheirParentIsOneCycleClosedByParent) {
  auto r = analyze(sample("shared_ptr_tree"));
  EXPECT_EQ(r.process.heap, "std::shared_ptr");
  EXPECT_EQ(r.process.reason, "exit");
  EXPECT_EQ(leaked_types(r), (std::multiset<std::string>{"Node", "Node", "Node", "Node"}));
  ASSERT_EQ(r.cycles.size(), 1u);
  const report::Cycle& cycle = r.cycles[0];
  EXPECT_EQ(cycle.members.size(), 4u);
  EXPECT_EQ(labels(r), (std::set<std::string>{"parent", "kids[0]", "kids[1]", "kids[2]"}));
  // The walk starts at the oldest member, the root; a child's parent pointer closes it.
  EXPECT_EQ(cycle.closing_edge.label, "parent");
  EXPECT_EQ(cycle.closing_edge.to, cycle.members.front());
  EXPECT_TRUE(allocated_at(r, cycle.members.front(), "shared_ptr_tree.cc",
                           alloc_line("shared_ptr_tree.cc", "sp-root")));
  for (std::size_t i = 1; i < cycle.members.size(); ++i) {
    EXPECT_TRUE(allocated_at(r, cycle.members[i], "shared_ptr_tree.cc",
                             alloc_line("shared_ptr_tree.cc", "sp-child")));
  }
  EXPECT_THAT(run_.output, HasSubstr("cyclegc: leaked std::shared_ptr object <Node 0x"));
  EXPECT_THAT(run_.output, HasSubstr("allocated at add_child (shared_ptr_tree.cc:" +
                                     std::to_string(alloc_line("shared_ptr_tree.cc", "sp-child"))));
  EXPECT_THAT(run_.output, HasSubstr("cyclegc: 4 leaked std::shared_ptr objects (1 cycle)"));
  EXPECT_THAT(run_.output, HasSubstr("std::shared_ptr heap: 4 shared objects alive"));
}

// What each leaky sample leaks, with the members that hold its cycles.
struct Leak {
  const char* sample;
  std::multiset<std::string> types;
  std::size_t cycles;
  std::set<std::string> labels;
};

std::vector<Leak> leaky_samples() {
  return {
      {"shared_ptr_tree",
       {"Node", "Node", "Node", "Node"},
       1,
       {"parent", "kids[0]", "kids[1]", "kids[2]"}},
      {"shared_ptr_observers",
       {"Subject", "Observer", "Observer"},
       1,
       {"observers[0]", "observers[1]", "subject"}},
      {"shared_ptr_callback", {"Connection"}, 1, {"on_data_"}},
      {"shared_ptr_map",
       {"Registry", "Session", "Session", "Session"},
       1,
       {"registry", "sessions[0]", "sessions[1]", "sessions[2]"}},
      {"shared_ptr_threads", std::multiset<std::string>(), 4, {"next"}},
  };
}

TEST_F(SharedPtrTest, EveryLeakySampleHasItsCyclesTypesAndMembers) {
  for (const Leak& leak : leaky_samples()) {
    SCOPED_TRACE(leak.sample);
    auto r = analyze(sample(leak.sample));
    EXPECT_EQ(r.process.heap, "std::shared_ptr");
    EXPECT_EQ(r.cycles.size(), leak.cycles);
    if (leak.types.empty()) {  // the threads' rings: 4 of 25 links, nothing of the churn
      EXPECT_EQ(leaked(r).size(), 100u);
      EXPECT_EQ(leaked_types(r).count("Link"), 100u);
    } else {
      EXPECT_EQ(leaked_types(r), leak.types);
    }
    EXPECT_EQ(labels(r), leak.labels);
    std::filesystem::remove(dir_ + "/r.json");
  }
}

// Without -g the same objects leak in the same cycles; members are named by their offsets.
TEST_F(SharedPtrTest, WithoutDebugInformationTheCountsDecideAndEdgesAreOffsets) {
  for (const Leak& leak : leaky_samples()) {
    SCOPED_TRACE(leak.sample);
    auto with = analyze(sample(leak.sample));
    std::filesystem::remove(dir_ + "/r.json");
    auto without = analyze(sample(std::string(leak.sample) + "_nodebug"));
    EXPECT_EQ(leaked_types(without), leaked_types(with));
    EXPECT_EQ(without.cycles.size(), with.cycles.size());
    for (const std::string& label : labels(without)) EXPECT_THAT(label, ::testing::StartsWith("+"));
    EXPECT_THAT(run_.output, HasSubstr("without debug information (-g)"));
    std::filesystem::remove(dir_ + "/r.json");
  }
}

TEST_F(SharedPtrTest, CorrectProgramsLeakNothing) {
  for (const char* name : {"shared_ptr_weak_parents", "shared_ptr_clean"}) {
    for (const char* variant : {"", "_nodebug"}) {
      SCOPED_TRACE(std::string(name) + variant);
      auto r = analyze(sample(std::string(name) + variant));
      EXPECT_THAT(leaked(r), ::testing::IsEmpty());
      EXPECT_THAT(r.cycles, ::testing::IsEmpty());
      EXPECT_THAT(run_.output, Not(HasSubstr("leaked std::shared_ptr object")));
      if (!r.process.heap.empty()) {  // a report, for what is still alive
        EXPECT_THAT(run_.output, HasSubstr("cyclegc: no leaked std::shared_ptr cycles; report:"));
      }
      std::filesystem::remove(dir_ + "/r.json");
    }
  }
}

// A program that frees everything leaves no report file and prints nothing of the agent's.
TEST_F(SharedPtrTest, AProgramThatFreesEverythingGetsNoReport) {
  auto r = analyze(sample("shared_ptr_clean"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/r.json"));
  EXPECT_THAT(run_.output, Not(HasSubstr("cyclegc")));
}

// Issue 15: a destroyed shared_ptr leaves its two words behind — in a vector's capacity after
// clear(), pop_back() and erase(), in a disengaged std::optional. Counted, they explained the
// reference of a holder the program still had, and the held objects were called leaked.
TEST_F(SharedPtrTest, StorageAContainerDestroyedHoldsNoReference) {
  for (const char* variant : {"", "_nodebug"}) {
    SCOPED_TRACE(variant);
    // Only debug information tells a disengaged optional from an engaged one.
    auto r = analyze(std::string(CYCLEGC_SHARED_PTR_PROGRAM) + variant,
                     *variant ? "stale-vector" : "stale");
    EXPECT_EQ(leaked(r).size(), 2u) << run_.output;
    for (const std::string& type : leaked_types(r)) EXPECT_THAT(type, HasSubstr("Stale"));
    std::filesystem::remove(dir_ + "/r.json");
  }
}

// Cycles through every kind of standard storage: map and unordered_map nodes, list nodes,
// deque chunks, set nodes, a unique_ptr's object, a heap-allocated closure, std::any, a base
// class that is not the first, a custom deleter's control block.
TEST_F(SharedPtrTest, CyclesThroughEveryStandardContainerAreFound) {
  for (const char* variant : {"", "_nodebug"}) {
    SCOPED_TRACE(variant);
    auto r = analyze(std::string(CYCLEGC_SHARED_PTR_PROGRAM) + variant, "containers");
    EXPECT_EQ(r.cycles.size(), 10u) << run_.output;
    EXPECT_EQ(leaked(r).size(), 19u);
    std::set<std::string> kinds;
    for (const std::string& type : leaked_types(r)) {
      const auto open = type.rfind("::In");
      kinds.insert(open == std::string::npos ? type : type.substr(open + 2));
    }
    for (const char* kind : {"InMap>", "InUnorderedMap>", "InList>", "InDeque>", "InSet>",
                             "InUniquePtr>", "InFunction>", "InAny>"}) {
      EXPECT_TRUE(kinds.count(kind)) << kind;
    }
    if (!*variant) {
      EXPECT_EQ(labels(r), (std::set<std::string>{"back", "items[0]", "inner", "call", "item",
                                                  "other", "self"}));
    }
    std::filesystem::remove(dir_ + "/r.json");
  }
}

// A cycle a running thread's stack holds, or a leaked raw pointer, is held from outside the
// shared graph: only the dropped one is garbage.
TEST_F(SharedPtrTest, CyclesHeldFromOutsideTheSharedGraphAreNotLeaked) {
  auto r = analyze(CYCLEGC_SHARED_PTR_PROGRAM, "alive");
  ASSERT_EQ(r.cycles.size(), 1u) << run_.output;
  EXPECT_EQ(r.cycles[0].members.size(), 4u);
  EXPECT_EQ(leaked(r).size(), 4u);
}

// Another allocator preloaded first owns malloc, and the hooks would see no block: the agent
// says so in one line rather than report a heap it did not see as clean.
TEST_F(SharedPtrTest, AProgramOnAnotherAllocatorGetsOneLineNotAFalseAllClear) {
  const char* jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";
  if (!std::filesystem::exists(jemalloc)) GTEST_SKIP() << "libjemalloc2 is not installed";
  ProgramRun r = cyclegc::testing::run_shell(
      "cd '" + dir_ + "' && LD_PRELOAD='" + jemalloc + " " + CYCLEGC_AGENT +
      "' CYCLEGC_OPTIONS=report_path=r.json " + sample("shared_ptr_tree"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cyclegc: not looking for std::shared_ptr cycles: malloc is "
                                  "not glibc's"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/r.json"));
}

TEST_F(SharedPtrTest, ForkedChildrenReportTheirOwnLeaksAndExecedOnesNothing) {
  ProgramRun r = run(CYCLEGC_SHARED_PTR_PROGRAM, "forks", "summary=0:report_path=r.%p.json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("failed")));
  int parents = 0, children = 0;
  for (const std::string& name : files()) {
    report::Report report = read_report(name);
    const auto types = leaked_types(report);
    ASSERT_EQ(types.size(), 1u) << name;
    const bool parent = types.begin()->ends_with("ParentLeak");
    EXPECT_TRUE(parent || types.begin()->ends_with("ChildLeak")) << *types.begin();
    (parent ? parents : children)++;
  }
  EXPECT_EQ(parents, 1);
  EXPECT_EQ(children, 20);  // and none from /bin/true, which has no shared object
}

// The allocation site is the program's line, past libstdc++'s frames, inlined ones included
// (std::allocator::allocate is always inlined, and named without its scope).
TEST_F(SharedPtrTest, TheAllocationSiteIsTheProgramsOwnLine) {
  auto r = analyze(CYCLEGC_SHARED_PTR_PROGRAM, "containers");
  ASSERT_FALSE(r.objects.empty());
  for (const report::Object& o : r.objects) {
    ASSERT_GE(o.stack, 0);
    const auto& frames = r.stacks[o.stack].frames;
    ASSERT_FALSE(frames.empty());
    EXPECT_THAT(frames.front().file, ::testing::EndsWith("shared_ptr_program.cc"))
        << frames.front().function;
  }
}

// Builds without frame pointers, with a static libstdc++, or stripped of every symbol: the
// same cycles, whatever the stacks can say.
TEST_F(SharedPtrTest, BadBuildsFindTheSameCycles) {
  for (const char* variant : {"_nofp", "_static", "_stripped"}) {
    SCOPED_TRACE(variant);
    auto r = analyze(std::string(CYCLEGC_SHARED_PTR_PROGRAM) + variant, "containers");
    EXPECT_EQ(r.cycles.size(), 10u) << run_.output;
    EXPECT_EQ(leaked(r).size(), 19u);
    std::filesystem::remove(dir_ + "/r.json");
  }
}

// A million live shared objects and ten thousand leaked rings: the report is written, and the
// stderr line says how long the analysis took.
TEST_F(SharedPtrTest, AMillionLiveObjectsAreAnalyzed) {
  auto r = analyze(CYCLEGC_SHARED_PTR_PROGRAM, "live 1000000");
  EXPECT_EQ(leaked(r).size(), 40000u);
  EXPECT_EQ(r.cycles.size(), 10000u);
  EXPECT_THAT(run_.output, ::testing::ContainsRegex("1040000 shared objects alive in [0-9]+ "
                                                    "blocks, analyzed in [0-9.]+ s"));
}

TEST_F(SharedPtrTest, ExitcodeFailsOnlyAProgramThatLeaked) {
  EXPECT_EQ(run(sample("shared_ptr_observers"), "", "exitcode=23").status, 23);
  EXPECT_EQ(run(sample("shared_ptr_weak_parents"), "", "exitcode=23").status, 0);
  EXPECT_EQ(run(sample("shared_ptr_clean"), "", "exitcode=23").status, 0);
}

TEST_F(SharedPtrTest, TheOptionTurnsTheAnalysisOff) {
  ProgramRun r = run(sample("shared_ptr_tree"), "", "shared_ptr=0:report_path=r.json");
  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.output, Not(HasSubstr("cyclegc")));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/r.json"));
}

// The report tool reads these reports as it reads the collector's, and words its fix for them.
TEST_F(SharedPtrTest, TheReportToolSuggestsAWeakPtrForTheClosingMember) {
  analyze(sample("shared_ptr_observers"));
  ProgramRun summary = cyclegc::testing::run_shell(std::string(CYCLEGC_REPORT_TOOL) + " summary " +
                                                   dir_ + "/r.json");
  EXPECT_EQ(summary.status, 0) << summary.output;
  EXPECT_THAT(summary.output, HasSubstr("std::weak_ptr"));
  EXPECT_THAT(summary.output, HasSubstr("Subject"));
  EXPECT_THAT(summary.output, Not(HasSubstr("cyclegc::Weak")));
  // No collector ran: nothing of collections, garbage or uncollectable objects to say.
  EXPECT_THAT(summary.output, Not(HasSubstr("Collections:")));
  EXPECT_THAT(summary.output, Not(HasSubstr("Uncollectable:")));
}

// Issue 15: reports on the dump signal and every interval while two threads keep allocating
// and moving shared_ptrs between live objects. Every report is whole, names only the dropped
// rings (never a live object a thread was moving), and the program ends on time.
TEST_F(SharedPtrTest, ReportsWhileThreadsRunNameOnlyWhatTheyDropped) {
  ProgramRun r = run(CYCLEGC_SHARED_PTR_PROGRAM, "busy 2",
                     "dump_signal=USR1:interval_ms=100:summary=0:report_path=r.%n.json");
  ASSERT_EQ(r.status, 0) << r.output;
  int rings = -1;
  ASSERT_EQ(std::sscanf(r.output.c_str(), "busy: %d rings dropped", &rings), 1) << r.output;
  std::map<std::string, int> reasons;
  report::Report last;
  for (const std::string& name : files()) {
    SCOPED_TRACE(name);
    report::Report report = read_report(name);
    ++reasons[report.process.reason];
    EXPECT_EQ(leaked(report).size() % 3, 0u);
    for (const std::string& type : leaked_types(report)) EXPECT_THAT(type, HasSubstr("::Leak"));
    if (report.process.reason == "exit") last = report;
  }
  EXPECT_GE(reasons["signal"] + reasons["interval"], 3);
  EXPECT_EQ(reasons["exit"], 1);
  EXPECT_EQ(leaked(last).size(), 3u * rings);
  EXPECT_EQ(last.cycles.size(), static_cast<std::size_t>(rings));
}

}  // namespace
