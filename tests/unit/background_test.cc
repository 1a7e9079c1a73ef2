// The background collector: its triggers, the finalizer executor, Guarded containers, and the
// interleaving that breaks naive concurrent trial deletion.
#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include "cyclegc/testing_hooks.h"
#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

using namespace std::chrono_literals;

class BackgroundTest : public GcTest {
 protected:
  void SetUp() override {
    GcTest::SetUp();
    set_background(true);
  }
  void TearDown() override {
    set_collector_hook(nullptr);
    GcTest::TearDown();
  }
  static void make_self_loops(int n) {
    for (int i = 0; i < n; ++i) {
      auto node = make<Node>();
      node->next = node;
    }
  }
};

// The interleaving forced here: the collector has recorded A's references (A.next -> B) and not
// yet B's. Another thread then moves B's reference out of A into a local variable, and A's
// reference from the test into B.next — moves change no count. When the collector records B
// (B.next -> A), the references it has seen explain every count: A 1 of 1, B 1 of 1, so trial
// deletion finds both unreachable, although the other thread's local variable holds B and B
// holds A. A collector that trusted that result would free both under the other thread.
Node* g_a = nullptr;
Ref<Node> g_a_ref;      // the test's reference to A, moved into B.next by the other thread
Ref<Node> g_moved_out;  // the other thread's local variable, outside the collector's view
std::atomic<int> g_revived{0};

void move_across_frontier(HookPoint point, const void* object) {
  if (point == HookPoint::kRevived) ++g_revived;
  if (point != HookPoint::kTraced || object != g_a) return;
  std::thread([] {
    g_moved_out = std::move(g_a->next);      // B: from A's field to a local variable
    g_moved_out->next = std::move(g_a_ref);  // A: from the test's variable into B's field
  }).join();
}

TEST_F(BackgroundTest, ReferenceMovedAcrossTheScanFrontierSurvives) {
  set_background(false);
  g_a_ref = make<Node>("A");  // allocated first, so traced first
  g_a = g_a_ref.get();
  g_a->next = make<Node>("B");
  set_collector_hook(move_across_frontier);
  g_revived = 0;
  EXPECT_EQ(collect(), 0u);
  set_collector_hook(nullptr);
  EXPECT_EQ(g_revived, 2) << "the analysis must have found A and B unreachable, then revived both";
  ASSERT_TRUE(g_moved_out);
  EXPECT_EQ(g_moved_out->name, "B");
  EXPECT_EQ(g_moved_out->next->name, "A");
  EXPECT_EQ(Node::live, 2);
  g_moved_out->next = nullptr;  // break the cycle: both freed by refcounting
  g_moved_out = nullptr;
  EXPECT_EQ(Node::live, 0);
}

TEST_F(BackgroundTest, ThresholdTriggersACollectionOnTheCollectorThread) {
  set_threshold(50);
  std::mutex mu;
  std::vector<std::pair<Trigger, std::thread::id>> seen;
  auto id = add_callback([&](Phase phase, const CollectionInfo& info) {
    std::lock_guard lock(mu);
    if (phase == Phase::kStop) seen.emplace_back(info.trigger, std::this_thread::get_id());
  });
  // Bursts just over the threshold, with pauses: the collector thread collects each. (A burst
  // that outran it by twice the threshold would be collected by this thread, pacing.)
  for (int burst = 0; burst < 4; ++burst) {
    make_self_loops(60);
    std::this_thread::sleep_for(20ms);
  }
  // What collections leave (objects allocated after the last one; objects touched while one
  // ran, which survive that round and are promoted) waits for later collections, so only some
  // garbage is freed here.
  EXPECT_TRUE(eventually([] { return Node::live < 240; })) << Node::live << " left";
  EXPECT_TRUE(eventually(
      [] { return get_stats()[0].by_trigger[static_cast<int>(Trigger::kThreshold)] > 0; }));
  remove_callback(id);
  {
    std::lock_guard lock(mu);
    const auto main_thread = std::this_thread::get_id();
    EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [&](const auto& s) {
      return s.first == Trigger::kThreshold && s.second != main_thread;
    })) << "no threshold collection ran on the collector thread";
  }
  collect();
  EXPECT_EQ(Node::live, 0);
}

TEST_F(BackgroundTest, RequestCollectReturnsAtOnceAndCollects) {
  set_threshold(0);
  make_self_loops(10);
  auto before = get_stats()[2].by_trigger[static_cast<int>(Trigger::kRequest)];
  request_collect();
  EXPECT_TRUE(eventually([] { return Node::live == 0; }));
  EXPECT_TRUE(eventually([before] {
    return get_stats()[2].by_trigger[static_cast<int>(Trigger::kRequest)] == before + 1;
  }));
  EXPECT_THROW(request_collect(3), std::invalid_argument);
}

TEST_F(BackgroundTest, IntervalCollectsPeriodically) {
  set_threshold(0);
  make_self_loops(10);
  set_interval(20ms);
  EXPECT_EQ(get_interval(), 20ms);
  EXPECT_TRUE(eventually([] { return Node::live == 0; }));
  make_self_loops(10);  // and again, without any other trigger: this thread's young objects
  if (kWaitsAreSeen) {  // are lent to the interval's collections while it sleeps
    EXPECT_TRUE(eventually([] { return Node::live == 0; }));
  }
  EXPECT_TRUE(eventually(
      [] { return get_stats()[2].by_trigger[static_cast<int>(Trigger::kInterval)] >= 2; }));
  set_interval(0ms);
  EXPECT_THROW(set_interval(-1ms), std::invalid_argument);
}

// A few huge objects never pass an object-count threshold; bytes do.
struct Big {
  static inline std::atomic<int> live{0};
  std::array<char, 1 << 20> payload{};
  Ref<Big> self;
  Big() { ++live; }
  ~Big() { --live; }
  void trace(Visitor& v) const { v("self", self); }
};

TEST_F(BackgroundTest, BytesAllocatedTriggerACollection) {
  set_threshold(100000);  // never reached by ten objects
  set_bytes_threshold(4u << 20);
  for (int i = 0; i < 10; ++i) {
    auto big = make<Big>();
    big->self = big;
  }
  EXPECT_TRUE(eventually([] { return Big::live <= 4; })) << Big::live << " still alive";
  EXPECT_TRUE(eventually(  // the stats are recorded just after the objects are freed
      [] { return get_stats()[0].by_trigger[static_cast<int>(Trigger::kBytes)] > 0; }));
  set_bytes_threshold(64u << 20);
  collect();
}

TEST_F(BackgroundTest, DisableStopsTheBytesTriggerToo) {
  set_threshold(100000);
  set_bytes_threshold(2u << 20);
  disable();
  const auto before = get_stats()[0].by_trigger[static_cast<int>(Trigger::kBytes)];
  for (int i = 0; i < 8; ++i) {
    auto big = make<Big>();
    big->self = big;
  }
  std::this_thread::sleep_for(50ms);  // time for a wrongly triggered collection to show up
  EXPECT_EQ(get_stats()[0].by_trigger[static_cast<int>(Trigger::kBytes)], before);
  EXPECT_EQ(Big::live, 8);
  enable();
  set_bytes_threshold(64u << 20);
  EXPECT_EQ(collect(), 8u);
}

// A finalizer executor that runs the work on a thread of the application's choosing.
class WorkerThread {
 public:
  WorkerThread() : thread_([this] { run(); }) {}
  ~WorkerThread() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }
  // Notifies under the lock: the work may finish, and the test destroy this worker, as soon as
  // the lock is released.
  void post(std::function<void()> work) {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(work));
    cv_.notify_one();
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  void run() {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      auto work = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      work();
      lock.lock();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::thread thread_;
};

struct Recorded {
  static inline std::mutex mu;
  static inline std::vector<std::thread::id> finalized_on;
  static inline std::vector<std::thread::id> destroyed_on;
  Ref<Recorded> next;
  void trace(Visitor& v) const { v("next", next); }
  void finalize() {
    std::lock_guard lock(mu);
    finalized_on.push_back(std::this_thread::get_id());
  }
  ~Recorded() {
    std::lock_guard lock(mu);
    destroyed_on.push_back(std::this_thread::get_id());
  }
};

TEST_F(BackgroundTest, FinalizerExecutorChoosesTheThread) {
  set_threshold(0);
  WorkerThread worker;
  set_finalizer_executor([&worker](std::function<void()> work) { worker.post(std::move(work)); });
  {
    std::lock_guard lock(Recorded::mu);
    Recorded::finalized_on.clear();
    Recorded::destroyed_on.clear();
  }
  {
    auto a = make<Recorded>();
    auto b = make<Recorded>();
    a->next = b;
    b->next = a;
  }
  request_collect();
  EXPECT_TRUE(eventually([] {
    std::lock_guard lock(Recorded::mu);
    return Recorded::destroyed_on.size() == 2;
  }));
  set_finalizer_executor(nullptr);
  std::lock_guard lock(Recorded::mu);
  ASSERT_EQ(Recorded::finalized_on.size(), 2u);
  for (auto id : Recorded::finalized_on) EXPECT_EQ(id, worker.id());
  for (auto id : Recorded::destroyed_on) EXPECT_EQ(id, worker.id());
}

// A plain container is read while every other thread that uses references is at a safepoint —
// here, asleep — and a Guarded one under its lock whenever that is free.
struct PlainBag {
  std::vector<Ref<PlainBag>> items;
  void trace(Visitor& v) const { v("items", items); }
};
struct GuardedBag {
  Guarded<std::vector<Ref<GuardedBag>>> items;
  void trace(Visitor& v) const { v("items", items); }
};

TEST_F(BackgroundTest, PlainContainersAreReadWhileOtherThreadsWaitAndGuardedOnesAnyTime) {
  set_background(false);
  std::atomic<bool> stop{false};
  std::thread other([&stop] {
    Ref<Node> registered = make<Node>("other thread");  // this thread now uses references
    while (!stop) std::this_thread::sleep_for(1ms);
  });
  eventually([] { return Node::live == 1; });
  Weak<PlainBag> plain;
  Weak<GuardedBag> guarded;
  {
    auto p = make<PlainBag>();
    p->items.push_back(p);
    plain = p;
    auto g = make<GuardedBag>();
    g->items.lock()->push_back(g);
    guarded = g;
  }
  const std::size_t found = collect();
  EXPECT_TRUE(guarded.expired());
  if (!kSanitized) {  // under TSan a sleep is not seen as a wait (gc_fixture.h)
    EXPECT_EQ(found, 2u);
    EXPECT_TRUE(plain.expired());
  }
  stop = true;
  other.join();
}

TEST_F(BackgroundTest, BusyGuardKeepsTheObjectAliveThisRound) {
  set_background(false);
  Weak<GuardedBag> weak;
  Guarded<std::vector<Ref<GuardedBag>>>* items;
  {
    auto g = make<GuardedBag>();
    g->items.lock()->push_back(g);
    weak = g;
    items = &g->items;
  }
  std::promise<void> locked, release;
  std::thread owner([&] {  // the owner is in the middle of an update
    auto held = items->lock();
    locked.set_value();
    release.get_future().wait();
  });
  locked.get_future().wait();
  EXPECT_EQ(collect(), 0u);
  release.set_value();
  owner.join();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(collect(), 1u);
  EXPECT_TRUE(weak.expired());
}

}  // namespace
}  // namespace cyclegc::testing
