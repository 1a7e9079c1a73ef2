// The per-thread young buffers (lib/src/thread_buffers.h) under the moves that could break
// them: an object handed to another thread and dropped there while a collection runs, a thread
// that exits or waits with garbage still in its buffer, objects that die out of order. Built
// into thread_tests, so the ThreadSanitizer stage runs them.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

using ThreadBuffersTest = GcTest;

// Fewer than a buffer holds: nothing but the thread's exit, wait or collect() hands them over.
constexpr int kFewerThanABuffer = 10;

void make_self_loops(int n) {
  for (int i = 0; i < n; ++i) {
    auto node = make<Node>();
    node->next = node;
  }
}

TEST_F(ThreadBuffersTest, AThreadThatExitsWithGarbageInItsBufferHandsItOver) {
  std::thread([] { make_self_loops(kFewerThanABuffer); }).join();
  EXPECT_EQ(Node::live, kFewerThanABuffer);
  EXPECT_EQ(collect(), static_cast<std::size_t>(kFewerThanABuffer));
  EXPECT_EQ(Node::live, 0);
}

// A thread that made garbage and then waits (a server between requests) lends its buffer:
// a collection on another thread finds the garbage while the thread still waits.
TEST_F(ThreadBuffersTest, AWaitingThreadsGarbageIsCollectedWhileItWaits) {
  if (!kWaitsAreSeen) GTEST_SKIP() << "under ThreadSanitizer the library does not see waits";
  std::mutex mu;
  std::condition_variable cv;
  bool made = false, release = false;
  std::thread waiter([&] {
    make_self_loops(kFewerThanABuffer);
    std::unique_lock lock(mu);
    made = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return made; });
  }
  EXPECT_TRUE(eventually([] {
    collect();
    return Node::live == 0;
  })) << Node::live
      << " objects of the waiting thread were never collected";
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  waiter.join();
}

// The same thread goes on allocating after its wait: what it made before was listed once, and
// what it makes after is its own again.
TEST_F(ThreadBuffersTest, AThreadThatWaitsAgainAndAgainKeepsItsBufferWhole) {
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    while (!stop.load()) {
      make_self_loops(3);
      auto kept = make<Node>("kept");
      std::this_thread::sleep_for(std::chrono::microseconds(50));  // lends its buffer
      EXPECT_EQ(kept->name, "kept");
    }
  });
  for (int i = 0; i < 200; ++i) collect();
  stop = true;
  worker.join();
  collect();
  EXPECT_EQ(Node::live, 0);
}

// Objects made on one thread, each published to another and dropped there (some while still in
// the maker's buffer, some after), while the background collector and explicit collections run.
TEST_F(ThreadBuffersTest, ObjectsPublishedToAnotherThreadAndDroppedThereMidCollection) {
  set_background(true);
  set_threshold(100);
  constexpr int kObjects = 50'000;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Ref<Node>> queue;
  bool done = false;
  std::thread consumer([&] {
    for (;;) {
      Ref<Node> taken;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return done || !queue.empty(); });
        if (queue.empty()) return;
        taken = std::move(queue.front());
        queue.pop_front();
      }
      if (taken->name == "loop") taken->next = taken;  // garbage for the collector
      taken = nullptr;                                 // dies here, made elsewhere
    }
  });
  std::thread collector([&] {
    for (int i = 0; i < 50; ++i) collect();
  });
  for (int i = 0; i < kObjects; ++i) {
    auto node = make<Node>(i % 7 == 0 ? "loop" : "plain");
    auto keep_one = i % 5 == 0 ? make<Node>("local") : Ref<Node>();  // dies on this thread
    std::lock_guard lock(mu);
    queue.push_back(std::move(node));
    cv.notify_one();
  }
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  consumer.join();
  collector.join();
  collect();
  EXPECT_EQ(Node::live, 0);
}

// Objects that die in any order relative to their making: popped from the top, or left for the
// hand-over, never freed twice or kept (ASan, and the live count, see to it).
TEST_F(ThreadBuffersTest, ObjectsDyingInAnyOrderAreFreedOnce) {
  std::vector<Ref<Node>> held;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 100; ++i) held.push_back(make<Node>());
    for (std::size_t i = round % 3; i < held.size(); i += 3) held[i] = nullptr;
    Weak<Node> weak = held.back();  // a Weak keeps the block, not the object
    held.clear();
    EXPECT_TRUE(weak.expired());
  }
  EXPECT_EQ(Node::live, 0);
  EXPECT_TRUE(get_objects().empty()) << "a dead object is still listed";
}

}  // namespace
}  // namespace cyclegc::testing
