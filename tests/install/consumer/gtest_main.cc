// A user's GoogleTest suite with cyclegc's leak check after every test.
#include <cyclegc/cyclegc.h>
#include <cyclegc/gtest.h>
#include <gtest/gtest.h>

struct Peer {
  cyclegc::Ref<Peer> other;
  void trace(cyclegc::Visitor& v) const { v("other", other); }
};

TEST(Consumer, ACycleIsCollectedAndNothingLeaks) {
  auto a = cyclegc::make<Peer>();
  a->other = a;
}

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  cyclegc::gtest::InstallLeakChecker();
  return RUN_ALL_TESTS();
}
