// GoogleTest integration: every test must leave the cyclegc heap as it found it.
//
// After each test a full collection runs; the test then fails if it left uncollectable objects
// (legacy finalizer policy), objects held by references no trace can see (a lambda capturing a
// Ref, say), or any other tracked object it created that is still alive. Each is named with its
// type and label, and with its allocation site when the agent is preloaded.
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

// Adds the checker to GoogleTest's listeners, so that a test it fails is printed as failed.
// Call after InitGoogleTest, before RUN_ALL_TESTS.
void InstallLeakChecker();

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
};

class LeakCheckedTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

 private:
  HeapSnapshot before_;
};

}  // namespace cyclegc::gtest
