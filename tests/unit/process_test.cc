// Whole-process behaviour: fork() and exit, each in a child process.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "gc_fixture.h"
#include "subprocess.h"

namespace cyclegc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

void make_self_loops(int n) {
  for (int i = 0; i < n; ++i) {
    auto node = make<Node>();
    node->next = node;
  }
}

// The child of a fork has only the forking thread; its collector must start a thread of its own
// and collect there, while the parent's collector goes on as before.
TEST(Process, ForkedChildHasItsOwnWorkingCollector) {
  set_background(true);
  set_threshold(0);
  make_self_loops(10);
  request_collect();  // the parent's collector thread is running
  ASSERT_TRUE(eventually([] { return Node::live == 0; }));

  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::atomic<bool> on_other_thread{false};
    const auto main_thread = std::this_thread::get_id();
    add_callback([&](Phase phase, const CollectionInfo&) {
      if (phase == Phase::kStop && std::this_thread::get_id() != main_thread)
        on_other_thread = true;
    });
    make_self_loops(100);
    request_collect();
    const bool freed = eventually([] { return Node::live == 0; });
    const bool threaded = eventually([&] { return on_other_thread.load(); });
    _exit(freed && threaded ? 0 : 1);
  }
  make_self_loops(50);  // the parent keeps collecting too
  request_collect();
  EXPECT_TRUE(eventually([] { return Node::live == 0; }));
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's collector did not collect on its own thread";
}

// fork() while another thread has garbage in its young buffer and is running, not waiting (so
// it has lent nothing): the child, where that thread does not exist, hands the buffer over on
// its behalf, and collects the garbage.
TEST(Process, AForkedChildCollectsTheGarbageInAVanishedThreadsHalfFullBuffer) {
  set_background(false);
  collect();
  std::atomic<bool> made{false}, release{false};
  std::thread busy([&] {
    make_self_loops(10);  // fewer than a buffer holds
    made = true;
    while (!release.load()) {
    }  // running, never waiting
  });
  while (!made.load()) {
  }
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::size_t found = collect();
    _exit(found == 10 && Node::live == 0 ? 0 : 10 + static_cast<int>(found));
  }
  release = true;
  busy.join();
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child collected " << WEXITSTATUS(status) - 10;
  EXPECT_EQ(collect(), 10u);  // the parent too, once the thread has exited
  EXPECT_EQ(Node::live, 0);
}

// Bounded, so that a child that hangs fails its test instead of stalling the suite.
cyclegc::testing::ProgramRun run_helper(const std::string& args) {
  return cyclegc::testing::run_shell("timeout 60 " + std::string(CYCLEGC_EXIT_HELPER) + " " + args);
}

TEST(Process, ExitRunsFinalizersOfUnreachableCycles) {
  auto run = run_helper("pep442");
  EXPECT_EQ(run.status, 0);
  EXPECT_THAT(run.output, HasSubstr("main returns\n"));
  EXPECT_THAT(run.output, HasSubstr("finalized a\n"));
  EXPECT_THAT(run.output, HasSubstr("finalized b\n"));
  EXPECT_THAT(run.output, HasSubstr("destroyed a\n"));
  EXPECT_THAT(run.output, HasSubstr("destroyed b\n"));
  EXPECT_THAT(run.output, Not(HasSubstr("uncollectable")));
}

// CPython never runs __del__ after module teardown: the final collection runs when the program
// ends (exit() or main's return), before the static destructors of its globals.
TEST(Process, TheFinalCollectionRunsWhileTheProgramsGlobalsAreAlive) {
  ProgramRun run = run_shell(std::string(CYCLEGC_EXIT_HELPER) + " globals");
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("destroyed with the program's globals alive\n"));
  EXPECT_THAT(run.output, Not(HasSubstr("gone")));
}

TEST(Process, ExitCountsUncollectableObjects) {
  auto run = run_helper("legacy");
  EXPECT_EQ(run.status, 0);
  EXPECT_THAT(run.output, HasSubstr("gc: 2 uncollectable objects at shutdown; use "
                                    "set_debug(DEBUG_UNCOLLECTABLE) to list them\n"));
  EXPECT_THAT(run.output, Not(HasSubstr("finalized")));
}

// CPython's shutdown report: the exit collection prints each object it finds uncollectable
// (type and address), then the count and the garbage list by repr, once.
TEST(Process, ExitListsUncollectableObjectsWithDebugUncollectable) {
  auto run = run_helper("legacy --debug");
  EXPECT_EQ(run.status, 0);
  EXPECT_THAT(run.output, ::testing::ContainsRegex("gc: uncollectable <ExitNode 0x[0-9a-f]+>\n"
                                                   "gc: uncollectable <ExitNode 0x[0-9a-f]+>\n"
                                                   "gc: 2 uncollectable objects at shutdown\n"
                                                   "      \\[ExitNode\\([ab]\\), "
                                                   "ExitNode\\([ab]\\)\\]\n"));
  EXPECT_THAT(run.output, Not(HasSubstr("to list them")));
}

// With DEBUG_SAVEALL every garbage object lands in garbage() on purpose: CPython says nothing.
TEST(Process, ExitSaysNothingOfSavedGarbage) {
  auto run = run_helper("pep442 --saveall");
  EXPECT_EQ(run.status, 0);
  EXPECT_THAT(run.output, HasSubstr("main returns\n"));
  EXPECT_THAT(run.output, Not(HasSubstr("uncollectable")));
}

// fork() right after the collector thread started: the thread allocates while it starts (and
// while it collects), and a child forked in the middle of that would inherit the allocator's
// locks held. Under ASan this hung about one run in 25 before the fork handler waited for the
// collector to park; glibc's malloc takes care of itself.
TEST(Process, ForkJustAfterTheCollectorStartsDoesNotHang) {
  for (int i = 0; i < 40; ++i) {
    cyclegc::testing::ProgramRun r = run_helper("fork");
    ASSERT_EQ(r.status, 0) << "run " << i << ": " << r.output;
    ASSERT_THAT(r.output, HasSubstr("child exited 0")) << "run " << i;
  }
}

}  // namespace
}  // namespace cyclegc::testing
