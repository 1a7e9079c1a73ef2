// Automatic collection through plain standard containers, with the background collector on:
// the README's Folder example in a single-threaded program, on several threads, beside threads
// that sit idle in waits, and what a collection reports when it cannot read a container.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

using namespace std::chrono_literals;

struct Folder {
  static inline std::atomic<long> destroyed{0};
  Ref<Folder> parent;
  std::vector<Ref<Folder>> children;
  ~Folder() { ++destroyed; }
  void trace(Visitor& v) const {
    v("parent", parent);
    v("children", children);
  }
};

void make_tree() {
  auto root = make<Folder>();
  auto child = make<Folder>();
  child->parent = root;
  root->children.push_back(child);
}

class SafepointTest : public GcTest {
 protected:
  void SetUp() override {
    GcTest::SetUp();
    set_background(true);
    Folder::destroyed = 0;
  }
  void TearDown() override {
    collect();
    GcTest::TearDown();
  }
  // Share of `trees` two-folder trees destroyed so far, without asking for a collection. In a
  // sanitizer build, only that the program ran (gc_fixture.h, kSanitized).
  static double freed_share(long trees) {
    if (kSanitized) return 1.0;
    return static_cast<double>(Folder::destroyed.load()) / static_cast<double>(2 * trees);
  }
};

// Before: 0-22% of the garbage freed while the loop ran, because a background collection counted
// the main thread as another mutator and never read a std::vector.
TEST_F(SafepointTest, ASingleThreadedProgramFreesCyclesThroughContainersAsItRuns) {
  constexpr long kTrees = 100'000;
  for (long i = 0; i < kTrees; ++i) make_tree();
  EXPECT_GT(freed_share(kTrees), 0.95);
}

// Threads building trees, and the main thread — which has used cyclegc — waiting in join().
TEST_F(SafepointTest, ThreadsBuildingTreesFreeTheirCyclesAsTheyRun) {
  constexpr long kTrees = 50'000;
  constexpr int kThreads = 4;
  auto registered = make<Folder>();  // the main thread uses references too
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([] {
      for (long i = 0; i < kTrees; ++i) make_tree();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(freed_share(kThreads * kTrees), 0.90);
}

// An idle worker blocked on a condition variable is not in the middle of changing anything: it
// must not stop the collector from reading the main thread's containers.
TEST_F(SafepointTest, AnIdleWorkerInAWaitDoesNotBlockCollection) {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  std::atomic<bool> ready{false};
  std::thread worker([&] {
    auto mine = make<Folder>();  // registered
    std::unique_lock lock(mu);
    ready = true;
    cv.wait(lock, [&] { return stop; });
  });
  while (!ready) std::this_thread::sleep_for(1ms);
  constexpr long kTrees = 50'000;
  for (long i = 0; i < kTrees; ++i) make_tree();
  EXPECT_GT(freed_share(kTrees), 0.95);
  {
    std::lock_guard lock(mu);
    stop = true;
  }
  cv.notify_all();
  worker.join();
}

// A thread that runs without ever reaching a safepoint (it copies references, never allocates
// or waits) may be changing any container: the collection leaves them unread, keeps their
// owners, and says how many it kept. Once the thread is gone, the same cycle is collected.
TEST_F(SafepointTest, ObjectsKeptBecauseTheirContainersCouldNotBeReadAreCounted) {
  set_background(false);
  std::atomic<bool> stop{false}, running{false};
  auto shared = make<Folder>();
  std::thread busy([&] {
    while (!stop) {
      Ref<Folder> copy = shared;  // a Ref operation, but no safepoint
      running = true;
    }
  });
  while (!running) std::this_thread::yield();
  Weak<Folder> weak;
  {
    auto root = make<Folder>();
    root->children.push_back(root);
    weak = root;
  }
  const auto before = get_stats();
  EXPECT_EQ(collect(), 0u);
  const auto after = get_stats();
  EXPECT_GE(after[2].unreadable - before[2].unreadable, 1u);
  EXPECT_FALSE(weak.expired());
  stop = true;
  busy.join();
  EXPECT_EQ(collect(), 1u);
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace cyclegc::testing
