// GoogleTest integration: every test must leave the cyclegc heap as it found it.
//
// After each test a full collection runs; the test then fails if it left cycles that only the
// collector frees (as the agent counts them: leaks that reference counting alone never frees;
// LeakCheckOptions gives the other view), uncollectable objects (legacy finalizer policy),
// objects held by references no trace can see (a lambda capturing a Ref, say), or any other
// tracked object it created that is still alive. Each is named with its type and label, and with
// its allocation site when the agent is preloaded.
//
//   int main(int argc, char** argv) {
//     testing::InitGoogleTest(&argc, argv);
//     cyclegc::gtest::InstallLeakChecker();   // every test is checked
//     return RUN_ALL_TESTS();
//   }
//
// or derive a fixture from cyclegc::gtest::LeakCheckedTest to check only its tests. A test that
// leaks on purpose calls cyclegc::gtest::AllowLeaks().
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <string>
#include <vector>

namespace cyclegc::gtest {

struct LeakCheckOptions {
  // A cycle the test dropped is garbage only the collector frees: a leak, as the agent counts
  // it (true), or fine, since the collector frees it (false).
  bool collectable_cycles_are_leaks = true;
};

// Adds the checker to GoogleTest's listeners, so that a test it fails is printed as failed.
// Call after InitGoogleTest, before RUN_ALL_TESTS. The options hold for LeakCheckedTest too.
void InstallLeakChecker(const LeakCheckOptions& options = {});
// The options of every check from now on, for suites that use only LeakCheckedTest.
void SetLeakCheckOptions(const LeakCheckOptions& options);

// The current test leaks on purpose: skip its check.
void AllowLeaks();

// What a test left behind, for custom checks: one line per object, empty when nothing.
class HeapSnapshot {
 public:
  HeapSnapshot();  // the tracked objects alive now
  std::vector<std::string> leaks_since() const;

 private:
  std::vector<const void*> objects_;  // sorted
  std::size_t garbage_ = 0;
  std::size_t collected_ = 0;  // objects freed by collections so far
};

class LeakCheckedTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

 private:
  HeapSnapshot before_;
};

}  // namespace cyclegc::gtest
