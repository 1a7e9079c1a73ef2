// Finalizers: PEP 442 (run once, weak refs cleared first, resurrection detected) and the legacy
// Python 2 policy that leaves cycles with finalizers uncollectable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

using ::testing::HasSubstr;
using FinalizerTest = GcTest;

// A node whose finalizer runs a test-supplied action.
struct Finalizing {
  static inline std::atomic<int> live{0};
  static inline std::atomic<int> finalized{0};
  std::string name;
  Ref<Finalizing> next;
  Weak<Finalizing> observer;
  std::function<void(Finalizing&)> on_finalize;
  explicit Finalizing(std::string n) : name(std::move(n)) { ++live; }
  ~Finalizing() { --live; }
  void trace(Visitor& v) const {
    v("next", next);
    v("observer", observer);
  }
  void finalize() {
    ++finalized;
    if (on_finalize) on_finalize(*this);
  }
};

class FinalizerFixture : public GcTest {
 protected:
  void SetUp() override {
    GcTest::SetUp();
    Finalizing::finalized = 0;
  }
  void TearDown() override {
    lifeboat.clear();
    GcTest::TearDown();
    EXPECT_EQ(Finalizing::live, 0);
  }
  // Builds an unreachable two-object cycle a <-> b.
  static void make_pair_cycle(std::function<void(Finalizing&)> fa,
                              std::function<void(Finalizing&)> fb = nullptr) {
    auto a = make<Finalizing>("a");
    auto b = make<Finalizing>("b");
    a->next = b;
    b->next = a;
    a->on_finalize = std::move(fa);
    b->on_finalize = std::move(fb);
  }
  static inline std::vector<Ref<Finalizing>> lifeboat;
};

TEST_F(FinalizerFixture, FinalizersRunOnceAndCycleIsFreed) {
  make_pair_cycle(nullptr);
  EXPECT_EQ(collect(), 2u);
  EXPECT_EQ(Finalizing::finalized, 2);
  EXPECT_EQ(Finalizing::live, 0);
}

TEST_F(FinalizerFixture, RefcountDeathRunsTheFinalizerOnce) {
  // As Python's __del__: the finalizer runs whichever way the object dies, exactly once.
  { auto a = make<Finalizing>("alone"); }
  EXPECT_EQ(Finalizing::finalized, 1);
  EXPECT_EQ(Finalizing::live, 0);
}

TEST_F(FinalizerFixture, FinalizerThrowingOnRefcountDeathIsReported) {
  ::testing::internal::CaptureStderr();
  {
    auto a = make<Finalizing>("alone");
    a->on_finalize = [](Finalizing&) { throw std::runtime_error("bad cleanup"); };
  }
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr(": bad cleanup"));
  EXPECT_EQ(Finalizing::live, 0);
}

TEST_F(FinalizerFixture, ResurrectedObjectSurvivesAndIsNotCounted) {
  make_pair_cycle([](Finalizing& self) { lifeboat.push_back(self.next->next); });
  // a's finalizer stores a Ref to a itself (a.next.next == a): a and b (reached from a) live.
  EXPECT_EQ(collect(), 0u);
  EXPECT_EQ(Finalizing::finalized, 2);
  EXPECT_EQ(Finalizing::live, 2);
  ASSERT_EQ(lifeboat.size(), 1u);
  EXPECT_EQ(lifeboat[0]->name, "a");
  EXPECT_TRUE(is_finalized(lifeboat[0]));
}

TEST_F(FinalizerFixture, ResurrectionHappensOncePerObject) {
  make_pair_cycle([](Finalizing& self) { lifeboat.push_back(self.next->next); });
  EXPECT_EQ(collect(), 0u);
  lifeboat.clear();  // unreachable again: finalizers already ran, so no second resurrection
  EXPECT_EQ(collect(), 2u);
  EXPECT_EQ(Finalizing::finalized, 2);
  EXPECT_EQ(Finalizing::live, 0);
}

TEST_F(FinalizerFixture, ResurrectionIsTransitive) {
  // a -> b -> c -> a; c's finalizer saves a, and everything a reaches must survive with it.
  {
    auto a = make<Finalizing>("a");
    auto b = make<Finalizing>("b");
    auto c = make<Finalizing>("c");
    a->next = b;
    b->next = c;
    c->next = a;
    c->on_finalize = [](Finalizing& self) { lifeboat.push_back(self.next); };
  }
  EXPECT_EQ(collect(), 0u);
  EXPECT_EQ(Finalizing::live, 3);
  ASSERT_EQ(lifeboat.size(), 1u);
  EXPECT_EQ(lifeboat[0]->next->name, "b");
  EXPECT_EQ(lifeboat[0]->next->next->name, "c");
}

TEST_F(FinalizerFixture, PartialResurrectionCollectsTheRest) {
  // x <-> y is garbage; a <-> b is garbage; b's finalizer saves b alone (b -> a, so a too).
  {
    auto x = make<Finalizing>("x");
    auto y = make<Finalizing>("y");
    x->next = y;
    y->next = x;
  }
  make_pair_cycle(nullptr, [](Finalizing& self) { lifeboat.push_back(self.next->next); });
  EXPECT_EQ(collect(), 2u);  // x and y; a and b were resurrected
  EXPECT_EQ(Finalizing::live, 2);
}

TEST_F(FinalizerFixture, WeakRefsReadEmptyInFinalizers) {
  bool observer_was_empty = false;
  {
    auto a = make<Finalizing>("a");
    auto b = make<Finalizing>("b");
    a->next = b;
    b->next = a;
    a->observer = b;
    a->on_finalize = [&](Finalizing& self) { observer_was_empty = !self.observer.lock(); };
  }
  collect();
  EXPECT_TRUE(observer_was_empty);
}

// CPython's test_gc: weakrefs to garbage are cleared before finalizers run and stay cleared,
// but a weakref made to an object a finalizer resurrected works, until the object dies.
TEST_F(FinalizerFixture, AWeakMadeToAResurrectedObjectLocks) {
  Weak<Finalizing> before;
  {
    auto a = make<Finalizing>("a");
    auto b = make<Finalizing>("b");
    a->next = b;
    b->next = a;
    a->on_finalize = [](Finalizing& self) { lifeboat.push_back(self.next->next); };
    before = a;
  }
  EXPECT_EQ(collect(), 0u);  // both resurrected: a reaches b
  ASSERT_EQ(lifeboat.size(), 1u);
  EXPECT_FALSE(before.lock());
  EXPECT_TRUE(before.expired());
  Weak<Finalizing> after = lifeboat[0];
  EXPECT_FALSE(after.expired());
  EXPECT_EQ(after.lock(), lifeboat[0]);
  Weak<Finalizing> copy_of_before = before;  // a copy stays what it was made from
  EXPECT_FALSE(copy_of_before.lock());
  lifeboat.clear();
  EXPECT_EQ(collect(), 2u);  // unreachable again: no finalizer left to run
  EXPECT_FALSE(after.lock());
}

TEST_F(FinalizerFixture, FinalizerMayCallCollect) {
  std::size_t inner = 99;
  make_pair_cycle([&](Finalizing&) { inner = collect(); });
  EXPECT_EQ(collect(), 2u);
  EXPECT_EQ(inner, 0u);  // re-entrant collect is a no-op
}

TEST_F(FinalizerFixture, FinalizerThatThrowsIsReportedAndCollectionContinues) {
  make_pair_cycle([](Finalizing&) { throw std::runtime_error("finalizer failed"); });
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(collect(), 2u);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("Exception ignored in finalizer of <"));
  EXPECT_THAT(err, HasSubstr("Finalizing 0x"));
  EXPECT_THAT(err, HasSubstr(": finalizer failed"));
  EXPECT_EQ(Finalizing::finalized, 2);
  EXPECT_EQ(Finalizing::live, 0);
}

TEST_F(FinalizerFixture, GetObjectsInFinalizerNeverReturnsTheDying) {
  bool saw_dying = false;
  make_pair_cycle([&](Finalizing& self) {
    for (auto& o : get_objects()) {
      if (auto f = o.as<Finalizing>(); f && (f.get() == &self || f.get() == self.next.get())) {
        saw_dying = true;
      }
    }
  });
  EXPECT_EQ(collect(), 2u);
  EXPECT_FALSE(saw_dying);
}

TEST_F(FinalizerFixture, FinalizerBreakingTheCycleFreesEarly) {
  make_pair_cycle([](Finalizing& self) { self.next = nullptr; });
  EXPECT_EQ(collect(), 2u);
  EXPECT_EQ(Finalizing::live, 0);
}

TEST_F(FinalizerFixture, LegacyPolicyLeavesFinalizerCyclesInGarbage) {
  set_finalizer_policy(FinalizerPolicy::kLegacy);
  make_pair_cycle(nullptr);
  {
    auto p = make<Node>("plain");  // a cycle without finalizers is still collected
    p->next = p;
  }
  EXPECT_EQ(collect(), 3u);  // 1 collected + 2 uncollectable
  EXPECT_EQ(Finalizing::finalized, 0);
  ASSERT_EQ(garbage().size(), 2u);
  EXPECT_EQ(Finalizing::live, 2);
  auto stats = get_stats()[2];
  EXPECT_GE(stats.uncollectable, 2u);

  // Break the cycle, drop garbage(): refcounting frees both, running their finalizers.
  garbage()[0].as<Finalizing>()->next = nullptr;
  garbage().clear();
  EXPECT_EQ(Finalizing::live, 0);
  EXPECT_EQ(Finalizing::finalized, 2);
  EXPECT_EQ(collect(), 0u);
}

TEST_F(FinalizerFixture, LegacyPolicyKeepsWhatFinalizersReach) {
  set_finalizer_policy(FinalizerPolicy::kLegacy);
  {
    auto f = make<Finalizing>("f");
    f->next = f;
    auto n = make<Node>("reached");
    n->next = n;
    // f reaches nothing of type Node here; make it reach one through a container type.
  }
  set_debug(DEBUG_UNCOLLECTABLE);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(collect(), 2u);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("gc: uncollectable <cyclegc::testing::(anonymous namespace)::"
                             "Finalizing 0x"));
  EXPECT_EQ(garbage().size(), 1u);
  garbage()[0].as<Finalizing>()->next = nullptr;
}

TEST_F(FinalizerFixture, GarbageListRemoveAndErase) {
  set_finalizer_policy(FinalizerPolicy::kLegacy);
  make_pair_cycle(nullptr);
  collect();
  ASSERT_EQ(garbage().size(), 2u);
  AnyRef first = garbage()[0];
  first.as<Finalizing>()->next->next = nullptr;  // break the cycle
  EXPECT_TRUE(garbage().remove(first));
  EXPECT_FALSE(garbage().remove(first));
  first = AnyRef();
  garbage().erase(0);
  EXPECT_TRUE(garbage().empty());
  EXPECT_THROW(garbage().erase(0), std::out_of_range);
  EXPECT_THROW(garbage()[0], std::out_of_range);
}

}  // namespace
}  // namespace cyclegc::testing
