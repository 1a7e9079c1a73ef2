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
  a->next = a;  // a cycle, but unreachable at the end: collected, not a leak
}

TEST(Demo, LambdaCapturesARef) {
  auto n = cyclegc::make<Node>("captured");  // ALLOC: captured
  g_callbacks.push_back([n] { (void)n; });
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
  if (argc < 2 || std::string(argv[1]) != "--fixture-only") cyclegc::gtest::InstallLeakChecker();
  return RUN_ALL_TESTS();
}
