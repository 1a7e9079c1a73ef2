// Collection: cycles found and freed, generations, thresholds, stats, callbacks, freeze, debug
// output, and argument checking — the behaviour of CPython's gc module.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <variant>

#include <tuple>

#include <optional>

#include <memory>

#include <map>

#include <functional>

#include <array>

#include <algorithm>

#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using CollectTest = GcTest;

bool contains(const std::vector<AnyRef>& objects, const AnyRef& x) {
  return std::find(objects.begin(), objects.end(), x) != objects.end();
}

TEST_F(CollectTest, SelfLoopIsCollected) {
  Weak<Node> w;
  {
    auto a = make<Node>("a");
    a->next = a;
    w = a;
  }
  EXPECT_EQ(Node::live, 1);
  EXPECT_EQ(collect(), 1u);
  EXPECT_EQ(Node::live, 0);
  EXPECT_TRUE(w.expired());
}

TEST_F(CollectTest, TwoObjectCycleIsCollected) {
  {
    auto a = make<Node>("a");
    auto b = make<Node>("b");
    a->next = b;
    b->next = a;
  }
  EXPECT_EQ(collect(), 2u);
  EXPECT_EQ(Node::live, 0);
  EXPECT_EQ(collect(), 0u);
}

TEST_F(CollectTest, ReachableCycleSurvives) {
  auto a = make<Node>("a");
  a->next = make<Node>("b");
  a->next->next = a;
  EXPECT_EQ(collect(), 0u);
  EXPECT_EQ(Node::live, 2);
  a->next->next = nullptr;
}

TEST_F(CollectTest, CycleHeldThroughUntrackedObjectSurvives) {
  // The reference from an untracked holder is external: the collector cannot see it.
  struct Holder {
    Ref<Node> node;
  };
  auto holder = make<Holder>();
  holder->node = make<Node>("held");
  holder->node->next = holder->node;
  EXPECT_EQ(collect(), 0u);
  EXPECT_EQ(Node::live, 1);
  holder->node->next = nullptr;
}

TEST_F(CollectTest, AnOldObjectHeldOnlyByYoungGarbageDiesWithIt) {
  // `old` is not a candidate of a young collection: refcounting frees it (and its child) when
  // the garbage's fields are cleared, while the garbage itself is still pinned.
  auto old = make<Tree>();
  old->kids.push_back(make<Tree>());
  collect();
  {
    auto a = make<Tree>();
    auto b = make<Tree>();
    a->kids.push_back(b);
    b->parent = a;
    a->kids.push_back(old);
  }
  old = nullptr;
  EXPECT_EQ(Tree::live, 4);
  EXPECT_EQ(collect(0), 2u);  // a and b; the other two were never candidates
  EXPECT_EQ(Tree::live, 0);
}

TEST_F(CollectTest, ContainersOfRefsAreTraced) {
  {
    auto root = make<Tree>();
    for (int i = 0; i < 5; ++i) {
      auto kid = make<Tree>();
      kid->parent = root;
      root->kids.push_back(kid);
    }
  }
  EXPECT_EQ(Tree::live, 6);
  EXPECT_EQ(collect(), 6u);
  EXPECT_EQ(Tree::live, 0);
}

TEST_F(CollectTest, GenerationsTrickleAsInCPython) {
  // CPython's test_collect_generations: an object moves to generation N+1 after collect(N).
  auto x = make<Node>("x");
  collect(0);
  auto [a, b, c] = get_count();
  EXPECT_TRUE(contains(get_objects(1), x));
  collect(1);
  auto [d, e, f] = get_count();
  EXPECT_TRUE(contains(get_objects(2), x));
  collect(2);
  auto [g, h, i] = get_count();
  EXPECT_EQ(std::make_pair(b, c), std::make_pair(1L, 0L));
  EXPECT_EQ(std::make_pair(e, f), std::make_pair(0L, 1L));
  EXPECT_EQ(std::make_pair(h, i), std::make_pair(0L, 0L));
  EXPECT_TRUE(contains(get_objects(2), x));
  (void)a, (void)d, (void)g;
}

TEST_F(CollectTest, CountIsAllocationsMinusDeallocations) {
  collect();
  EXPECT_EQ(get_count()[0], 0);
  auto a = make<Node>();
  auto b = make<Node>();
  EXPECT_EQ(get_count()[0], 2);
  b = nullptr;
  EXPECT_EQ(get_count()[0], 1);
  auto p = make<int>(5);  // untracked objects do not count
  EXPECT_EQ(get_count()[0], 1);
}

TEST_F(CollectTest, ThresholdTriggersAutomaticCollection) {
  set_threshold(10);
  std::vector<CollectionInfo> seen;
  auto id = add_callback([&](Phase phase, const CollectionInfo& info) {
    if (phase == Phase::kStop) seen.push_back(info);
  });
  for (int i = 0; i < 5; ++i) {  // five self-loops: garbage the threshold must find
    auto n = make<Node>();
    n->next = n;
  }
  std::vector<Ref<Node>> keep;
  for (int i = 0; i < 20; ++i) keep.push_back(make<Node>());
  remove_callback(id);
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().generation, 0);
  std::size_t collected = 0;
  for (auto& info : seen) collected += info.collected;
  EXPECT_EQ(collected, 5u);
}

TEST_F(CollectTest, FullCollectionsWaitForAQuarterOfTheLongLivedObjects) {
  // CPython's rule: a full collection due by threshold runs only once the objects that survived
  // a generation-1 collection since the last full one are at least 25% of the long-lived ones.
  std::vector<Ref<Node>> keep;
  for (int i = 0; i < 400; ++i) keep.push_back(make<Node>());
  collect(2);  // 400+ long-lived objects
  set_threshold(1, 1, 0);
  const auto before = get_stats();
  for (int i = 0; i < 20; ++i) keep.push_back(make<Node>());
  auto after = get_stats();
  EXPECT_GT(after[1].collections, before[1].collections);
  EXPECT_EQ(after[2].collections, before[2].collections) << "too few new survivors for a full one";
  for (int i = 0; i < 200; ++i) keep.push_back(make<Node>());
  after = get_stats();
  EXPECT_GT(after[2].by_trigger[static_cast<int>(Trigger::kThreshold)],
            before[2].by_trigger[static_cast<int>(Trigger::kThreshold)]);
}

TEST_F(CollectTest, DisableStopsAutomaticCollectionButNotExplicit) {
  set_threshold(1);
  disable();
  EXPECT_FALSE(is_enabled());
  auto before = get_stats()[0].collections;
  for (int i = 0; i < 10; ++i) {
    auto n = make<Node>();
    n->next = n;
  }
  EXPECT_EQ(get_stats()[0].collections, before);
  EXPECT_EQ(collect(0), 10u);
  enable();
  EXPECT_TRUE(is_enabled());
}

TEST_F(CollectTest, ThresholdZeroDisablesAutomaticCollection) {
  set_threshold(0);
  auto before = get_stats()[0].collections;
  std::vector<Ref<Node>> keep;
  for (int i = 0; i < 2000; ++i) keep.push_back(make<Node>());
  EXPECT_EQ(get_stats()[0].collections, before);
}

TEST_F(CollectTest, SetThresholdKeepsOmittedValues) {
  set_threshold(5);
  EXPECT_EQ(get_threshold(), (std::array<long, 3>{5, 10, 10}));
  set_threshold(5, 3);
  EXPECT_EQ(get_threshold(), (std::array<long, 3>{5, 3, 10}));
  set_threshold(1, 2, 3);
  EXPECT_EQ(get_threshold(), (std::array<long, 3>{1, 2, 3}));
}

TEST_F(CollectTest, BadArgumentsNameTheValidRange) {
  try {
    collect(7);
    FAIL() << "collect(7) must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("generation must be in [0, 2], got 7"));
  }
  EXPECT_THROW(collect(-1), std::invalid_argument);
  EXPECT_THROW(get_objects(-2), std::invalid_argument);
  EXPECT_THROW(get_objects(3), std::invalid_argument);
  try {
    set_threshold(-1);
    FAIL() << "negative threshold must throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("threshold0 must be >= 0"));
  }
  EXPECT_THROW(set_threshold(1, -5), std::invalid_argument);
  EXPECT_EQ(get_threshold()[0], 700);  // a rejected call changes nothing
}

TEST_F(CollectTest, StatsCountPerGeneration) {
  auto before = get_stats();
  {
    auto a = make<Node>();
    a->next = a;
  }
  collect(1);
  auto after = get_stats();
  EXPECT_EQ(after[1].collections, before[1].collections + 1);
  EXPECT_EQ(after[1].collected, before[1].collected + 1);
  EXPECT_EQ(after[0].collections, before[0].collections);
}

TEST_F(CollectTest, CallbacksSeeStartAndStop) {
  std::vector<std::pair<Phase, CollectionInfo>> calls;
  auto id = add_callback([&](Phase p, const CollectionInfo& info) { calls.emplace_back(p, info); });
  {
    auto a = make<Node>();
    a->next = a;
  }
  collect(2);
  EXPECT_TRUE(remove_callback(id));
  EXPECT_FALSE(remove_callback(id));
  collect();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].first, Phase::kStart);
  EXPECT_EQ(calls[0].second.generation, 2);
  EXPECT_EQ(calls[1].first, Phase::kStop);
  EXPECT_EQ(calls[1].second.collected, 1u);
  EXPECT_EQ(calls[1].second.uncollectable, 0u);
}

TEST_F(CollectTest, CallbackThatThrowsDoesNotStopCollection) {
  auto id = add_callback([](Phase, const CollectionInfo&) { throw std::runtime_error("boom"); });
  {
    auto a = make<Node>();
    a->next = a;
  }
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(collect(), 1u);
  EXPECT_THAT(::testing::internal::GetCapturedStderr(), HasSubstr("gc callback: boom"));
  remove_callback(id);
}

TEST_F(CollectTest, FrozenObjectsAreIgnored) {
  auto a = make<Node>("frozen");
  a->next = a;
  Weak<Node> w = a;
  freeze();
  EXPECT_EQ(get_freeze_count(), 1u);
  EXPECT_FALSE(contains(get_objects(), a));
  a = nullptr;
  EXPECT_EQ(collect(), 0u);  // the frozen cycle is not examined
  EXPECT_FALSE(w.expired());
  unfreeze();
  EXPECT_EQ(get_freeze_count(), 0u);
  EXPECT_EQ(collect(), 1u);
  EXPECT_TRUE(w.expired());
}

TEST_F(CollectTest, DebugStatsUsesCPythonWording) {
  {
    auto a = make<Node>();
    a->next = a;
  }
  set_debug(DEBUG_STATS);
  EXPECT_EQ(get_debug(), DEBUG_STATS);
  ::testing::internal::CaptureStderr();
  collect();
  collect();
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("gc: collecting generation 2...\n"));
  EXPECT_THAT(err, HasSubstr("gc: objects in each generation: "));
  EXPECT_THAT(err, HasSubstr("gc: objects in permanent generation: 0\n"));
  EXPECT_THAT(err, ::testing::ContainsRegex("gc: done, 1 unreachable, 0 uncollectable, "
                                            "[0-9]+\\.[0-9]{4}s elapsed\n"));
  EXPECT_THAT(err, ::testing::ContainsRegex("gc: done, [0-9]+\\.[0-9]{4}s elapsed\n"));
}

TEST_F(CollectTest, DebugCollectablePrintsEachObject) {
  Node* raw;
  {
    auto a = make<Node>();
    a->next = a;
    raw = a.get();
  }
  set_debug(DEBUG_COLLECTABLE);
  ::testing::internal::CaptureStderr();
  collect();
  std::string err = ::testing::internal::GetCapturedStderr();
  char expected[96];
  std::snprintf(expected, sizeof expected, "gc: collectable <cyclegc::testing::Node %p>\n",
                static_cast<void*>(raw));
  EXPECT_EQ(err, expected);
}

TEST_F(CollectTest, SaveAllKeepsExactlyTheGarbage) {
  auto live = make<Node>("live");
  {
    auto a = make<Node>("a");
    auto b = make<Node>("b");
    a->next = b;
    b->next = a;
  }
  set_debug(DEBUG_SAVEALL);
  EXPECT_EQ(collect(), 2u);
  auto saved = garbage().items();
  ASSERT_EQ(saved.size(), 2u);
  std::vector<std::string> names;
  for (auto& g : saved) names.push_back(g.as<Node>()->name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Node::live, 3);
  set_debug(0);
  saved.clear();
  garbage().clear();
  EXPECT_EQ(collect(), 2u);
  EXPECT_EQ(Node::live, 1);
}

// The agent's collection: its garbage is kept after what garbage() held, and the flags other
// collections read never say DEBUG_SAVEALL.
TEST_F(CollectTest, CollectSavingGarbageKeepsOnlyItsOwnAndLeavesTheFlags) {
  auto pair = [](const char* x, const char* y) {
    auto a = make<Node>(x);
    auto b = make<Node>(y);
    a->next = b;
    b->next = a;
  };
  pair("a", "b");
  set_debug(DEBUG_SAVEALL);
  ASSERT_EQ(collect(), 2u);  // the program's own saved garbage
  set_debug(0);
  int saw_saveall = 0;
  const CallbackId id = add_callback([&](Phase, const CollectionInfo&) {
    if (get_debug() & DEBUG_SAVEALL) ++saw_saveall;
  });
  pair("c", "d");
  const SavedCollection c = collect_saving_garbage();
  remove_callback(id);
  EXPECT_EQ(c.found, 2u);
  EXPECT_EQ(c.first, 2u);
  EXPECT_EQ(saw_saveall, 0);
  EXPECT_EQ(get_debug(), 0);
  ASSERT_EQ(garbage().size(), 4u);
  std::vector<std::string> own{garbage()[2].as<Node>()->name, garbage()[3].as<Node>()->name};
  std::sort(own.begin(), own.end());
  EXPECT_EQ(own, (std::vector<std::string>{"c", "d"}));
  garbage().clear();
  EXPECT_EQ(collect(), 4u);
  EXPECT_EQ(Node::live, 0);
}

// Each kind of field trace reads: a self-cycle through it is found, and get_referent_edges
// names the field. Before, variant, tuple and unique_ptr compiled and traced nothing: leaks.
struct Kinds {
  static inline std::atomic<int> live{0};
  struct Impl {  // the pimpl pattern
    std::vector<Ref<Kinds>> refs;
    void trace(Visitor& v) const { v("refs", refs); }
  };
  std::variant<int, std::string, Ref<Kinds>> variant;
  std::tuple<int, Ref<Kinds>, std::string> tuple;
  std::unique_ptr<Impl> pimpl;
  std::array<Ref<Kinds>, 2> array;
  Ref<Kinds> c_array[2];
  std::optional<Ref<Kinds>> optional;
  std::map<std::string, std::vector<Ref<Kinds>>> nested;
  std::vector<int> numbers{1, 2, 3};  // holds no reference: skipped
  Kinds() { ++live; }
  ~Kinds() { --live; }
  void trace(Visitor& v) const {
    v("variant", variant);
    v("tuple", tuple);
    v("pimpl", pimpl);
    v("array", array);
    v("c_array", c_array);
    v("optional", optional);
    v("nested", nested);
    v("numbers", numbers);
  }
};

TEST_F(CollectTest, CyclesThroughEveryTracedFieldKindAreCollected) {
  const std::vector<std::function<void(Kinds&, const Ref<Kinds>&)>> closers = {
      [](Kinds& k, const Ref<Kinds>& self) { k.variant = self; },
      [](Kinds& k, const Ref<Kinds>& self) { std::get<1>(k.tuple) = self; },
      [](Kinds& k, const Ref<Kinds>& self) {
        k.pimpl = std::make_unique<Kinds::Impl>();
        k.pimpl->refs.push_back(self);
      },
      [](Kinds& k, const Ref<Kinds>& self) { k.array[1] = self; },
      [](Kinds& k, const Ref<Kinds>& self) { k.c_array[1] = self; },
      [](Kinds& k, const Ref<Kinds>& self) { k.optional = self; },
      [](Kinds& k, const Ref<Kinds>& self) { k.nested["x"].push_back(self); },
  };
  const std::vector<std::string> labels = {"variant",    "tuple",    "refs[0]",  "array[1]",
                                           "c_array[1]", "optional", "nested[0]"};
  for (std::size_t i = 0; i < closers.size(); ++i) {
    {
      auto k = make<Kinds>();
      closers[i](*k, k);
      auto edges = get_referent_edges(AnyRef(k));
      ASSERT_EQ(edges.size(), 1u) << labels[i];
      EXPECT_EQ(edges[0].label, labels[i]);
    }
    EXPECT_EQ(collect(), 1u) << labels[i];
    EXPECT_EQ(Kinds::live, 0) << labels[i];
  }
}

TEST_F(CollectTest, CollectingATenMillionCycleDoesNotRecurse) {
  constexpr int kLength = 10'000'000;
  disable();
  {
    auto head = make<Node>();
    Node* tail = head.get();
    for (int i = 1; i < kLength; ++i) {
      tail->next = make<Node>();
      tail = tail->next.get();
    }
    tail->next = head;
  }
  EXPECT_EQ(collect(), static_cast<std::size_t>(kLength));
  EXPECT_EQ(Node::live, 0);
}

}  // namespace
}  // namespace cyclegc::testing
