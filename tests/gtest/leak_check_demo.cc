// A GoogleTest suite with the leak checker installed and tests that leak on purpose, run as a
// child process by leak_check_test.cc, which checks which tests fail and what they say.
#include <functional>

#include "cyclegc/cyclegc.h"
#include "cyclegc/gtest.h"

namespace {

struct Node {
  std::string name;
  cyclegc::Ref<Node> next;
  explicit Node(std::string n) : name(std::move(n)) {}
  void trace(cyclegc::Visitor& v) const { v("next", next); }
  std::string repr() const { return "Node(" + name + ")"; }
};

std::vector<std::function<void()>> g_callbacks;  // outlives the tests, untraced
cyclegc::Ref<Node> g_kept;

TEST(Demo, Clean) {
  auto a = cyclegc::make<Node>("temporary");
  a->next = cyclegc::make<Node>("next");
}

// Without the collector these two would never be freed: a leak, as the agent counts it, unless
// the checker is told that the collector freeing it is fine (--allow-collectable).
TEST(Demo, LeavesACollectableCycle) {
  auto a = cyclegc::make<Node>("ring-a");
  a->next = cyclegc::make<Node>("ring-b");
  a->next->next = a;
}

TEST(Demo, LambdaCapturesARef) {
  auto n = cyclegc::make<Node>("captured");  // ALLOC: captured
  g_callbacks.push_back([n] { (void)n; });
}

TEST(Demo, LeavesACollectableCycleTheCollectorFreesAtOnce) {
  {
    auto a = cyclegc::make<Node>("ring-c");
    a->next = cyclegc::make<Node>("ring-d");
    a->next->next = a;
  }
  cyclegc::collect();  // as an automatic collection would, before the test ends
}

TEST(Demo, KeptInAGlobal) { g_kept = cyclegc::make<Node>("kept"); }

TEST(Demo, LostForGood) { new cyclegc::Ref<Node>(cyclegc::make<Node>("lost")); }

TEST(Demo, LeaksOnPurpose) {
  cyclegc::gtest::AllowLeaks();
  g_callbacks.push_back([n = cyclegc::make<Node>("allowed")] { (void)n; });
}

struct Checked : cyclegc::gtest::LeakCheckedTest {};
TEST_F(Checked, FixtureCatchesALeakToo) {
  g_callbacks.push_back([n = cyclegc::make<Node>("fixture")] { (void)n; });
}
TEST_F(Checked, FixtureCleanTest) { auto a = cyclegc::make<Node>("fine"); }

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  const std::string mode = argc < 2 ? "" : argv[1];
  if (mode == "--allow-collectable") {
    cyclegc::gtest::InstallLeakChecker({.collectable_cycles_are_leaks = false});
  } else if (mode != "--fixture-only") {
    cyclegc::gtest::InstallLeakChecker();
  }
  return RUN_ALL_TESTS();
}
