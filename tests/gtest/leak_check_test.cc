// cyclegc::gtest: a leaking test fails with a useful message, a clean test passes, an allowed
// leak passes; with the agent preloaded, the message names where the object was made.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sample_source.h"
#include "subprocess.h"

namespace {

using cyclegc::testing::ProgramRun;
using cyclegc::testing::run_shell;
using ::testing::HasSubstr;
using ::testing::Not;

ProgramRun demo(const std::string& filter, const std::string& extra = "", bool agent = false,
                const std::string& summary = "summary=0") {
  std::string prefix = "ASAN_OPTIONS=detect_leaks=0 ";
  if (agent) {
    prefix += "LD_PRELOAD='" + std::string(CYCLEGC_PRELOAD_PREFIX) + CYCLEGC_AGENT +
              "' CYCLEGC_OPTIONS=report_path=none:" + summary + " ";
  }
  return run_shell(prefix + CYCLEGC_DEMO + " --gtest_filter=" + filter + " " + extra);
}

TEST(LeakChecker, CleanTestPasses) {
  ProgramRun r = demo("Demo.Clean");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("[       OK ] Demo.Clean"));
}

TEST(LeakChecker, UntracedHolderFailsTheTestNamingTheObject) {
  ProgramRun r = demo("Demo.LambdaCapturesARef");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("cyclegc: test left <"));
  EXPECT_THAT(r.output, HasSubstr("Node 0x"));
  EXPECT_THAT(r.output, HasSubstr("> Node(captured) held by 1 untraced reference"));
  EXPECT_THAT(r.output, HasSubstr("[  FAILED  ] Demo.LambdaCapturesARef ("));
  EXPECT_THAT(r.output, Not(HasSubstr("[       OK ] Demo.LambdaCapturesARef")));
}

// Every object a test leaves fails it; the library's scan says whether the program still holds
// it (a global, another thread) or lost it for good.
TEST(LeakChecker, LiveObjectLeftInAGlobalFailsTheTestNamingTheGlobal) {
  ProgramRun r = demo("Demo.KeptInAGlobal");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("> Node(kept) held by 1 untraced reference, still reachable "
                                  "from a global in leak_check_demo"));
  // The agent names globals the dynamic symbol table leaves out.
  r = demo("Demo.KeptInAGlobal", "", /*agent=*/true);
  EXPECT_THAT(r.output, HasSubstr("> Node(kept) held by 1 untraced reference, still reachable "
                                  "from (anonymous namespace)::g_kept"));
}

TEST(LeakChecker, AnObjectNothingReachesIsCalledLeaked) {
  ProgramRun r = demo("Demo.LostForGood");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("> Node(lost) held by 1 untraced reference, leaked: nothing "
                                  "the program holds reaches it"));
}

// Issue 14.4: one definition of a leak. A cycle the test drops is garbage only the collector
// frees; the agent counts it as leaked, and so does the checker, unless told otherwise.
TEST(LeakChecker, ACollectableCycleIsALeakAsTheAgentCountsIt) {
  ProgramRun r = demo("Demo.LeavesACollectableCycle");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cyclegc: test left a cycle only the collector frees: <"));
  EXPECT_THAT(r.output, HasSubstr("> Node(ring-a)"));
  EXPECT_THAT(r.output, HasSubstr("> Node(ring-b)"));
  EXPECT_THAT(r.output, HasSubstr("[  FAILED  ] Demo.LeavesACollectableCycle ("));
  // The other view: the collector freeing it is fine.
  ProgramRun allowed = demo("Demo.LeavesACollectableCycle", "--allow-collectable");
  EXPECT_EQ(allowed.status, 0) << allowed.output;
  EXPECT_THAT(allowed.output, HasSubstr("[       OK ] Demo.LeavesACollectableCycle"));
  // What the agent says of the same test, unchecked (nothing collects before the program
  // ends): two collectable objects, the two the checker names.
  ProgramRun agent =
      demo("Demo.LeavesACollectableCycle", "--fixture-only", /*agent=*/true, "summary=1");
  EXPECT_THAT(agent.output, HasSubstr("cyclegc: 2 leaked objects (1 cycles): 2 collectable"));
  // Freed by an automatic collection in the middle of the test, the cycle still counts.
  ProgramRun automatic = demo("Demo.LeavesACollectableCycleTheCollectorFreesAtOnce");
  EXPECT_EQ(automatic.status, 1) << automatic.output;
  EXPECT_THAT(automatic.output,
              HasSubstr("cyclegc: test left 2 objects in cycles that collections during the "
                        "test freed"));
}

TEST(LeakChecker, AllowLeaksSkipsTheCheck) {
  ProgramRun r = demo("Demo.LeaksOnPurpose");
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(LeakChecker, WithTheAgentTheMessageNamesTheAllocationSite) {
  ProgramRun r = demo("Demo.LambdaCapturesARef", "", /*agent=*/true);
  EXPECT_EQ(r.status, 1);
  const int line = cyclegc::testing::alloc_line(CYCLEGC_DEMO_SOURCE, "captured");
  EXPECT_THAT(r.output, HasSubstr("allocated at (anonymous namespace)::Demo_LambdaCapturesARef_Test"
                                  "::TestBody (leak_check_demo.cc:" +
                                  std::to_string(line) + ")"));
}

TEST(LeakChecker, FixtureChecksItsOwnTests) {
  ProgramRun r = demo("Checked.*", "--fixture-only");
  EXPECT_EQ(r.status, 1);
  EXPECT_THAT(r.output, HasSubstr("[  FAILED  ] Checked.FixtureCatchesALeakToo"));
  EXPECT_THAT(r.output, HasSubstr("[       OK ] Checked.FixtureCleanTest"));
  EXPECT_THAT(r.output, HasSubstr("Node(fixture) held by 1 untraced reference"));
}

}  // namespace
