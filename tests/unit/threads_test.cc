// Refcounting and tracking from several threads at once: the atomic counts, the Weak::lock race
// with the last release, and the generation lists shared by all threads. Built into its own
// binary so the TSan stage runs exactly these.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

using ThreadsTest = GcTest;

template <class F>
void run_threads(int n, F body) {
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) threads.emplace_back(body, t);
  for (auto& t : threads) t.join();
}

TEST_F(ThreadsTest, ConcurrentCopiesOfOneObjectKeepExactCount) {
  auto shared = make<Node>("shared");
  run_threads(4, [&shared](int) {
    for (int i = 0; i < 100'000; ++i) {
      Ref<Node> copy = shared;
      Weak<Node> w = copy;
      EXPECT_TRUE(w.lock());
    }
  });
  EXPECT_EQ(shared.use_count(), 1u);
}

TEST_F(ThreadsTest, WeakLockRacesWithLastReleaseSafely) {
  // One thread drops the only strong reference while another upgrades a Weak: either the
  // upgrade wins (and keeps the object alive) or it reads empty; never a dead object.
  for (int round = 0; round < 2000; ++round) {
    auto strong = make<Node>("contended");
    Weak<Node> weak = strong;
    std::thread dropper([&strong] { strong = nullptr; });
    if (auto locked = weak.lock()) {
      EXPECT_EQ(locked->name, "contended");
    }
    dropper.join();
    EXPECT_TRUE(weak.expired());
  }
  EXPECT_EQ(Node::live, 0);
}

TEST_F(ThreadsTest, ThreadsTrackAndUntrackConcurrently) {
  disable();  // collections while other threads mutate are the background collector's job
  constexpr int kPerThread = 20'000;
  run_threads(4, [](int) {
    std::vector<Ref<Tree>> kept;
    for (int i = 0; i < kPerThread; ++i) {
      auto t = make<Tree>();
      if (i % 3 == 0) t->parent = t;  // a self-loop left for the collector
      if (i % 2 == 0) kept.push_back(t);
    }
  });
  enable();
  EXPECT_EQ(collect(), static_cast<std::size_t>(4 * ((kPerThread + 2) / 3)));
  EXPECT_EQ(Tree::live, 0);
}

TEST_F(ThreadsTest, ObjectsAThreadFreedAreUnlinkedWhenItExits) {
  // Fewer than the library unlinks at a time: only the thread's exit settles them.
  const long before = get_count()[0];
  std::thread([] {
    for (int i = 0; i < 3; ++i) make<Node>("short-lived");
  }).join();
  EXPECT_EQ(get_count()[0], before);
  EXPECT_EQ(Node::live, 0);
}

TEST_F(ThreadsTest, IntrospectionNeverReturnsDyingObjects) {
  disable();
  std::atomic<bool> stop{false};
  std::thread churn([&stop] {
    while (!stop.load()) {
      std::vector<Ref<Node>> batch;
      for (int i = 0; i < 100; ++i) batch.push_back(make<Node>("churn"));
    }
  });
  for (int i = 0; i < 200; ++i) {
    for (auto& o : get_objects()) EXPECT_GE(refcount(o), 1u);
  }
  stop = true;
  churn.join();
  enable();
}

// The conservative scan reads other threads' stacks and objects while they run (those it cannot
// stop) or while they are parked: under ThreadSanitizer and AddressSanitizer it must neither
// race nor read freed memory, and it must always find what a thread's frame holds.
TEST_F(ThreadsTest, TheStillReachableScanFindsWhatRunningThreadsHold) {
  std::atomic<bool> stop{false};
  std::atomic<int> ready{0};
  Weak<Node> held[2];
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      auto mine = make<Node>("held by a worker");
      held[t] = mine;
      ready.fetch_add(1);
      while (!stop.load()) {
        std::vector<Ref<Node>> batch;
        for (int i = 0; i < 50; ++i) batch.push_back(make<Node>("churn"));
        batch.front()->next = batch.back();
      }
    });
  }
  while (ready.load() < 2) std::this_thread::yield();
  for (int round = 0; round < 30; ++round) {
    const StillReachable s = find_still_reachable();
    ASSERT_TRUE(s.scanned);
    for (const auto& w : held) {
      const AnyRef object(w.lock());
      EXPECT_NE(std::find(s.objects.begin(), s.objects.end(), object), s.objects.end());
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace cyclegc::testing
