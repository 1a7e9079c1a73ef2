// Shared test types and a fixture that gives each test a clean collector: the collector is
// process-wide, so every test starts from a full collection with default settings.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "cyclegc/cyclegc.h"

namespace cyclegc::testing {

// A graph node like the seed articles' Graph: a name, a `next` edge and a printable form.
struct Node {
  static inline std::atomic<int> live{0};
  std::string name;
  Ref<Node> next;
  explicit Node(std::string n = "") : name(std::move(n)) { ++live; }
  ~Node() { --live; }
  void trace(Visitor& v) const { v("next", next); }
  std::string repr() const { return "Node(" + name + ")"; }
};

// A node with any number of children, for containers and fan-out.
struct Tree {
  static inline std::atomic<int> live{0};
  std::vector<Ref<Tree>> kids;
  Ref<Tree> parent;
  Tree() { ++live; }
  ~Tree() { --live; }
  void trace(Visitor& v) const {
    v("parent", parent);
    v("kids", kids);
  }
};

// Whether this is a sanitizer build. Under ThreadSanitizer the sanitizer's interceptors take
// some waits before libcyclegc sees them (lib/src/blocking_calls.cc), and every sanitizer
// slows threads unevenly: how much garbage background collections free as a program runs is
// asserted in the normal build, while sanitizer builds check that what runs is safe.
constexpr bool kSanitized =
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif

// Whether libcyclegc sees this build's waits (condition variables, sleeps): under ThreadSanitizer
// the sanitizer's interceptors take them first, so a waiting thread neither counts as stopped
// nor lends its young objects to collections (lib/src/thread_buffers.h).
constexpr bool kWaitsAreSeen =
#if defined(__SANITIZE_THREAD__)
    false;
#else
    true;
#endif

// Polls `done` for up to ten seconds: background work finishes when the collector thread gets
// to it, not at a known time.
template <class F>
bool eventually(F done) {
  using namespace std::chrono_literals;
  for (auto deadline = std::chrono::steady_clock::now() + 10s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1ms)) {
    if (done()) return true;
  }
  return done();
}

// Tests run the collector the way CPython does — automatic collections on the allocating thread
// — so that what they assert does not depend on thread timing. The background collector has
// tests of its own (background_test.cc, tests/stress).
class GcTest : public ::testing::Test {
 protected:
  void SetUp() override { Reset(); }
  void TearDown() override { Reset(); }
  static void Reset() {
    set_background(false);
    set_interval(std::chrono::milliseconds(0));
    set_finalizer_executor(nullptr);
    set_debug(0);
    set_finalizer_policy(FinalizerPolicy::kPep442);
    set_threshold(700, 10, 10);
    enable();
    unfreeze();
    garbage().clear();
    collect();
    garbage().clear();
  }
};

}  // namespace cyclegc::testing
