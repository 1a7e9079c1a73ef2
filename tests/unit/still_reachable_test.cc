// Each test expects a fresh process, as ctest gives it: run again in one process
// (--gtest_repeat), the memory earlier runs freed holds old addresses that the new objects may
// reuse, and an object can be reached from another root first (its holder then differs; the
// leaked ones stay leaked).
//
// find_still_reachable(): each kind of holder the scan must see (a frame, a local container's
// heap buffer, a global's nodes, another thread's stack, a container behind an interior pointer
// through its trace), and each kind of memory that must hold nothing (a lost heap block, a
// lambda capture owned by a leaked cycle, weak references, garbage).
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "cyclegc/cyclegc.h"
#include "gc_fixture.h"
#include "gmock/gmock.h"

namespace cyclegc::testing {
namespace {

// A conservative scan takes a stale word for a reference when it equals a live header or block
// start (LeakSanitizer's tests face the same). The stack the tests' frames will use is cleared
// first, and the blocks that hold the lost references are of a size nothing else here uses.
[[gnu::noinline]] void clear_the_stack_below() {
  volatile char below[1 << 16];
  for (char& c : const_cast<char(&)[1 << 16]>(below)) c = 0;
}
// The blocks the tests lose on purpose, complemented so that the scan does not see them, freed
// after each test (LeakSanitizer, in the ASan build, agrees that they were lost).
std::vector<std::uintptr_t> g_lost_blocks;

class StillReachableTest : public GcTest {
 protected:
  void SetUp() override {
    GcTest::SetUp();
    clear_the_stack_below();
  }
  void TearDown() override {
    for (std::uintptr_t hidden : g_lost_blocks) {
      delete reinterpret_cast<std::array<Ref<Node>, 37>*>(~hidden);
    }
    g_lost_blocks.clear();
    GcTest::TearDown();
  }
};

// The holder of `object`, or null when the scan found it leaked.
const Holder* holder_of(const StillReachable& s, const AnyRef& object) {
  const auto it = std::find(s.objects.begin(), s.objects.end(), object);
  return it == s.objects.end() ? nullptr : &s.holders[s.holder[it - s.objects.begin()]];
}
// The tests watch objects through Weak references, which the scan must not take for holders, so
// that their own frames hold nothing; and the leaks are made on a thread of their own, joined
// before the scan, so that no frame or register the scan reads ever held their addresses.
template <class F>
auto on_another_thread(F make) {
  decltype(make()) made;
  std::thread([&] { made = make(); }).join();
  return made;
}

template <class T>
const Holder* holder_of(const StillReachable& s, const Weak<T>& object) {
  const Ref<T> r = object.lock();
  return r ? holder_of(s, AnyRef(r)) : nullptr;
}

// An object whose only reference is in a heap block nothing points at any more: leaked.
[[gnu::noinline]] Weak<Node> lose_a_node(const std::string& name) {
  auto* lost = new std::array<Ref<Node>, 37>();
  (*lost)[0] = make<Node>(name);
  g_lost_blocks.push_back(~reinterpret_cast<std::uintptr_t>(lost));
  return (*lost)[0];
}

TEST_F(StillReachableTest, ALocalVectorsBufferHoldsItsObjectsFromThisThread) {
  std::vector<Ref<Node>> results;
  for (int i = 0; i < 2000; ++i) results.push_back(make<Node>("result"));
  const StillReachable s = find_still_reachable();
  ASSERT_TRUE(s.scanned);
  for (const auto& r : results) {
    const Holder* h = holder_of(s, AnyRef(r));
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->kind, Holder::Kind::kStack);
    EXPECT_EQ(h->thread_id, gettid());
  }
}

// A forked child's one thread is the thread that forked, under its own id: the scan names it
// so, not by the parent's id.
TEST_F(StillReachableTest, AForkedChildNamesItsOwnThread) {
  const auto parents = make<Node>("the parent's");  // this thread uses cyclegc before it forks
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const auto held = make<Node>("the child's");
    const StillReachable s = find_still_reachable();
    const Holder* h = holder_of(s, AnyRef(held));
    _exit(h && h->kind == Holder::Kind::kStack && h->thread_id == gettid() ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST_F(StillReachableTest, AnObjectInALostHeapBlockIsLeaked) {
  const Weak<Node> lost = on_another_thread([] { return lose_a_node("lost"); });
  const StillReachable s = find_still_reachable();
  ASSERT_FALSE(lost.expired());
  EXPECT_EQ(holder_of(s, lost), nullptr);
}

}  // namespace

// Outside the anonymous namespace: the dynamic symbol table has only external names.
std::map<std::string, Ref<Node>> g_registry;

namespace {

[[gnu::noinline]] std::vector<Weak<Node>> fill_the_registry() {
  std::vector<Weak<Node>> entries;
  for (int i = 0; i < 50; ++i) {
    auto& entry = g_registry["key" + std::to_string(i)];
    entry = make<Node>("entry");
    entries.push_back(entry);
  }
  return entries;
}

TEST_F(StillReachableTest, AGlobalMapsNodesHoldTheirObjectsNamedByTheGlobal) {
  const auto entries = fill_the_registry();
  const StillReachable s = find_still_reachable();
  for (const auto& entry : entries) {
    const Holder* h = holder_of(s, entry);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->kind, Holder::Kind::kGlobal);
    EXPECT_THAT(h->symbol, ::testing::StartsWith("cyclegc::testing::g_registry"));
  }
  g_registry.clear();
}

TEST_F(StillReachableTest, AnotherThreadsStackHoldsWhatItsFramesHold) {
  std::mutex mu;
  std::condition_variable cv;
  bool holding = false, done = false;
  Weak<Node> watched;
  long tid = 0;
  std::thread t([&] {
    pthread_setname_np(pthread_self(), "holder");
    auto mine = make<Node>("the thread's");
    {
      std::lock_guard lock(mu);
      watched = mine;
      tid = gettid();
      holding = true;
    }
    cv.notify_all();
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return done; });
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return holding; });
  }
  const StillReachable s = find_still_reachable();
  const Holder* h = holder_of(s, watched);
  {
    std::lock_guard lock(mu);
    done = true;
  }
  cv.notify_all();
  t.join();
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->kind, Holder::Kind::kStack);
  EXPECT_EQ(h->thread_id, tid);
  EXPECT_EQ(h->thread_name, "holder");
}

// An event bus whose handlers (std::function, untraced) capture the bus: a cycle the collector
// cannot see, so a leak only the scan can call one.
struct Bus {
  std::vector<std::function<void()>> handlers;
  std::string payload = std::string(200, 'x');
  void trace(Visitor&) const {}
};

[[gnu::noinline]] Weak<Bus> leak_a_bus() {
  auto bus = make<Bus>();
  const auto big = std::array<char, 64>{};  // too large for std::function's own storage
  bus->handlers.push_back([bus, big] { (void)bus->payload.size(), (void)big; });
  bus->handlers.push_back([bus] { (void)bus; });
  return bus;
}

TEST_F(StillReachableTest, ACycleThroughLambdaCapturesIsLeaked) {
  const Weak<Bus> bus = on_another_thread(leak_a_bus);
  const StillReachable s = find_still_reachable();

  ASSERT_FALSE(bus.expired());
  EXPECT_EQ(holder_of(s, bus), nullptr);
  bus.lock()->handlers.clear();  // the cycle opens: the bus is freed
  EXPECT_TRUE(bus.expired());
}

std::vector<Weak<Node>> g_watchers;

TEST_F(StillReachableTest, AGlobalOfWeakReferencesHoldsNothing) {
  const Weak<Node> lost = on_another_thread([] { return lose_a_node("watched"); });
  for (int i = 0; i < 3; ++i) g_watchers.push_back(lost);
  const StillReachable s = find_still_reachable();
  EXPECT_EQ(holder_of(s, lost), nullptr);
  g_watchers.clear();
}

// A container whose only pointer to its buffer points inside it: the scan cannot follow it,
// the trace can.
struct Offset {
  Ref<Node>* items;  // one past the start of the allocation
  std::size_t n;
  explicit Offset(std::size_t count) : items(new Ref<Node>[count + 1] + 1), n(count) {}
  ~Offset() { delete[](items - 1); }
  void trace(Visitor& v) const {
    for (std::size_t i = 0; i < n; ++i) v("items", items[i]);
  }
};

Ref<Offset> g_offset;

[[gnu::noinline]] std::vector<Weak<Node>> fill_the_offset_container() {
  g_offset = make<Offset>(4);
  std::vector<Weak<Node>> items;
  for (std::size_t i = 0; i < 4; ++i) {
    g_offset->items[i] = make<Node>("inside");
    items.push_back(g_offset->items[i]);
  }
  return items;
}

TEST_F(StillReachableTest, ObjectsBehindAnInteriorPointerAreFoundThroughTheTrace) {
  const auto items = fill_the_offset_container();
  const StillReachable s = find_still_reachable();
  for (const auto& item : items) {
    const Holder* h = holder_of(s, item);
    ASSERT_NE(h, nullptr);
    EXPECT_EQ(h->kind, Holder::Kind::kGlobal);
  }
  g_offset = nullptr;
}

TEST_F(StillReachableTest, WhatOnlyGarbageHoldsIsNotReachable) {
  set_debug(DEBUG_SAVEALL);
  [] {
    auto a = make<Node>("a");
    a->next = make<Node>("b");
    a->next->next = a;
  }();
  ASSERT_EQ(collect(), 2u);
  set_debug(0);
  const StillReachable s = find_still_reachable();
  ASSERT_EQ(garbage().size(), 2u);
  for (const AnyRef& g : garbage().items()) EXPECT_EQ(holder_of(s, g), nullptr);
  garbage().clear();
}

}  // namespace
}  // namespace cyclegc::testing
