// A user's GoogleTest suite with cyclegc's leak check after every test.
#include <cyclegc/cyclegc.h>
#include <cyclegc/gtest.h>
#include <gtest/gtest.h>

struct Peer {
  cyclegc::Ref<Peer> other;
  void trace(cyclegc::Visitor& v) const { v("other", other); }
};

// The collector frees the cycle, which this suite counts as fine (by default a dropped cycle
// fails the test, as the agent counts it a leak).
TEST(Consumer, ACycleIsCollectedAndNothingLeaks) {
  auto a = cyclegc::make<Peer>();
  a->other = a;
}

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  cyclegc::gtest::InstallLeakChecker({.collectable_cycles_are_leaks = false});
  return RUN_ALL_TESTS();
}
