// Runs every seed sample as a separate process and checks the key lines of its output against
// what the seed articles show (with the per-object counts of C++: no instance dicts).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "subprocess.h"

namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

using cyclegc::testing::ProgramRun;

// Runs a sample, stdout and stderr interleaved as a terminal shows them; it must succeed.
ProgramRun run_ok(const std::string& command_line) {
  ProgramRun run =
      cyclegc::testing::run_shell(std::string(CYCLEGC_SAMPLES_DIR) + "/" + command_line);
  EXPECT_EQ(run.status, 0) << command_line << " failed:\n" << run.output;
  return run;
}

std::vector<std::string> all_matches(const std::string& text, const std::string& pattern) {
  std::vector<std::string> out;
  std::regex re(pattern);
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    out.push_back((*it)[1]);
  }
  return out;
}

TEST(Samples, GetReferents) {
  EXPECT_THAT(run_ok("gc_get_referents").output,
              HasSubstr("Linking nodes Graph(three).next = Graph(one)\n\n"
                        "three refers to:\n  next: Graph(one)\n"));
}

TEST(Samples, GetReferentsCycles) {
  EXPECT_THAT(run_ok("gc_get_referents_cycles").output,
              HasSubstr("Examining: Graph(three)\nExamining: Graph(one)\nExamining: Graph(two)\n\n"
                        "Found a cycle to Graph(three):\n"
                        "  0:  Graph(three)\n  1:  Graph(one)\n  2:  Graph(two)\n"));
}

TEST(Samples, Collect) {
  EXPECT_THAT(run_ok("gc_collect").output,
              HasSubstr("Collecting 0 ...\nUnreachable objects: 3\nRemaining Garbage: []\n\n"
                        "Collecting 1 ...\nUnreachable objects: 0\nRemaining Garbage: []\n"));
}

TEST(Samples, CollectWithFinalizerPep442) {
  EXPECT_THAT(
      run_ok("gc_collect_with_finalizer").output,
      HasSubstr("Collecting...\nGraph(one).finalize()\nGraph(two).finalize()\n"
                "Graph(three).finalize()\nUnreachable objects: 3\nRemaining Garbage: []\n"));
}

TEST(Samples, CollectWithFinalizerLegacy) {
  EXPECT_THAT(run_ok("gc_collect_with_finalizer --legacy").output,
              HasSubstr("Collecting...\nUnreachable objects: 3\n"
                        "Remaining Garbage: [Graph(one), Graph(two), Graph(three)]\n"));
}

TEST(Samples, CollectBreakCycleLegacy) {
  EXPECT_THAT(run_ok("gc_collect_break_cycle --legacy").output,
              HasSubstr("Unreachable objects: 3\n"
                        "Remaining Garbage: [Graph(one), Graph(two), Graph(three)]\n\n"
                        "Breaking the cycle\nLinking nodes Graph(one).next = nullptr\n"
                        "Removing references in gc.garbage\nGraph(two).finalize()\n"
                        "Graph(three).finalize()\nGraph(one).finalize()\n\n"
                        "Collecting...\nUnreachable objects: 0\nRemaining Garbage: []\n"));
}

TEST(Samples, CollectBreakCyclePep442) {
  auto out = run_ok("gc_collect_break_cycle").output;
  EXPECT_THAT(out, HasSubstr("Unreachable objects: 3\nRemaining Garbage: []\n"));
  EXPECT_THAT(out, HasSubstr("Nothing to break: garbage() is empty\n"));
}

TEST(Samples, GetReferrers) {
  auto out = run_ok("gc_get_referrers").output;
  EXPECT_THAT(out, HasSubstr("Collecting...\nUnreachable objects: 0\nRemaining Garbage: []\n"));
  EXPECT_THAT(out, HasSubstr("Looking for references to Graph(one)\n"
                             "Found referrer: Graph(three)\n"
                             "Linking nodes Graph(three).next = nullptr\n"));
  EXPECT_THAT(out, HasSubstr("Remaining Garbage: []\nGraph(one).finalize()\n"
                             "Graph(two).finalize()\nGraph(three).finalize()\n"));
}

TEST(Samples, GetReferrersLegacy) {
  auto out = run_ok("gc_get_referrers --legacy").output;
  EXPECT_THAT(out, HasSubstr("Unreachable objects: 3\n"
                             "Remaining Garbage: [Graph(one), Graph(two), Graph(three)]\n"));
  EXPECT_THAT(out, HasSubstr("Looking for references to Graph(two)\n"
                             "Found referrer: Graph(one)\n"));
  EXPECT_THAT(out, HasSubstr("Clearing gc.garbage:\nGraph(one).finalize()\n"));
  EXPECT_THAT(out, HasSubstr("Collecting...\nUnreachable objects: 0\nRemaining Garbage: []\n"));
}

TEST(Samples, GetThreshold) { EXPECT_EQ(run_ok("gc_get_threshold").output, "(700, 10, 10)\n"); }

TEST(Samples, ThresholdFromArgument) {
  auto out = run_ok("gc_threshold 2").output;
  EXPECT_THAT(out, HasSubstr("Thresholds: (2, 1, 1)\nClear the collector by forcing a run\n"
                             "gc: collecting generation 2...\n"));
  EXPECT_THAT(out, Not(HasSubstr("Missing or invalid threshold")));
  // 10 objects with threshold 2: collections of generation 0 and, with threshold1 = 1, of 1.
  EXPECT_GE(all_matches(out, "gc: collecting generation (0)\\.\\.\\.").size(), 2u);
  EXPECT_GE(all_matches(out, "gc: collecting generation (1)\\.\\.\\.").size(), 1u);
  EXPECT_THAT(out, HasSubstr("Created 9\nExiting\n"));
}

TEST(Samples, ThresholdFallsBackOnBadInput) {
  for (const char* arg : {"", " abc", " -3", " 12x"}) {
    auto out = run_ok(std::string("gc_threshold") + arg).output;
    EXPECT_THAT(out, HasSubstr("Missing or invalid threshold, using default\n"
                               "Thresholds: (5, 1, 1)\n"))
        << "argument:" << arg;
  }
}

TEST(Samples, DebugStats) {
  EXPECT_THAT(run_ok("gc_debug_stats").output,
              ContainsRegex("gc: collecting generation 2\\.\\.\\.\n"
                            "gc: objects in each generation: 1 0 0\n"
                            "gc: objects in permanent generation: 0\n"
                            "gc: done, 1 unreachable, 0 uncollectable, [0-9.]+s elapsed\n"
                            "Exiting\n"));
}

TEST(Samples, DebugCollectable) {
  auto out = run_ok("gc_debug_collectable").output;
  auto created = all_matches(out, "Creating Graph (0x[0-9a-f]+) \\(");
  auto collectable = all_matches(out, "gc: collectable <Graph (0x[0-9a-f]+)>");
  ASSERT_EQ(created.size(), 2u) << out;
  EXPECT_EQ(collectable, created);  // the addresses the collector names are the objects made
  EXPECT_EQ(all_matches(out, "gc: collectable <CleanupGraph (0x[0-9a-f]+)>").size(), 2u);
  EXPECT_THAT(out, HasSubstr("CleanupGraph(three).finalize()\n\nCollecting\n"));
  EXPECT_THAT(out, HasSubstr("CleanupGraph(four).finalize()\nCleanupGraph(five).finalize()\n"
                             "Done\n"));
}

TEST(Samples, DebugCollectableLegacy) {
  auto out = run_ok("gc_debug_collectable --legacy").output;
  EXPECT_EQ(all_matches(out, "gc: collectable <Graph (0x[0-9a-f]+)>").size(), 2u);
  EXPECT_EQ(all_matches(out, "gc: uncollectable <CleanupGraph (0x[0-9a-f]+)>").size(), 2u);
  EXPECT_THAT(out, Not(HasSubstr("gc: collectable <CleanupGraph")));
}

void expect_retained_all(const std::string& out) {
  auto collectable = all_matches(out, "gc: collectable <\\w+ (0x[0-9a-f]+)>");
  auto retained = all_matches(out, "Retained: \\w+\\(\\w+\\) (0x[0-9a-f]+)");
  EXPECT_EQ(collectable.size(), 4u) << out;
  EXPECT_EQ(retained, collectable);
  EXPECT_THAT(out, HasSubstr("CleanupGraph(three).finalize()\nCollecting\n"));
  EXPECT_THAT(out, HasSubstr("CleanupGraph(four).finalize()\nCleanupGraph(five).finalize()\n"
                             "Done\nRetained: Graph(one) 0x"));
}

TEST(Samples, DebugSaveAll) { expect_retained_all(run_ok("gc_debug_saveall").output); }
TEST(Samples, DebugLeak) { expect_retained_all(run_ok("gc_debug_leak").output); }

TEST(Samples, WeakrefFinalize) {
  auto out = run_ok("weakref_finalize").output;
  EXPECT_THAT(out, HasSubstr("Alive? True\nAlive after del? False\nConnection closed\n"
                             "Opened session.tmp\nClosed session.tmp\n"));
  EXPECT_THAT(out, HasSubstr("Opened a.tmp\nDropped; alive? True\nClosed a.tmp\nCollected: 1\n"
                             "Alive after collect? False\n"));
}

TEST(Samples, CollectTimeEvent) {
  auto out = run_ok("collect_time_event").output;
  EXPECT_THAT(out, HasSubstr("Creating cycles...\nGarbage collector: collected 10 objects.\n"));
  EXPECT_THAT(out, ContainsRegex("Time-based: collect every 20 ms\n"
                                 "Garbage collector: collected [1-9][0-9]* objects\\.\n"));
  EXPECT_THAT(out, HasSubstr("Client 1 disconnected\nGarbage collector: collected 4 objects.\n"));
  EXPECT_THAT(out, HasSubstr("Client 3 disconnected\nGarbage collector: collected 12 objects.\n"));
}

}  // namespace
