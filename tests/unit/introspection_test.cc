// get_referrers, get_referents, get_objects and edge labels.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

using IntrospectionTest = GcTest;

TEST_F(IntrospectionTest, ReferentsFollowTrace) {
  auto root = make<Tree>();
  auto k1 = make<Tree>();
  auto k2 = make<Tree>();
  root->kids = {k1, k2};
  k1->parent = root;
  auto edges = get_referent_edges(root);
  ASSERT_EQ(edges.size(), 2u);
  EXPECT_EQ(edges[0].label, "kids[0]");
  EXPECT_EQ(edges[0].target, AnyRef(k1));
  EXPECT_EQ(edges[1].label, "kids[1]");
  auto up = get_referent_edges(k1);
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].label, "parent");
  EXPECT_EQ(get_referents(k2).size(), 0u);
  k1->parent = nullptr;
}

// The streaming form is the same edges, in the same order, as asking object by object: a heap
// walk (the agent's report) and a single question must never disagree.
TEST_F(IntrospectionTest, StreamedEdgesAreTheEdgesOfEachObject) {
  auto root = make<Tree>();
  auto k1 = make<Tree>();
  auto k2 = make<Tree>();
  root->kids = {k1, k2, k1};
  k1->parent = root;
  k2->parent = k2;
  const std::vector<AnyRef> objects{AnyRef(k2), AnyRef(), AnyRef(root), AnyRef(k1)};
  std::vector<std::tuple<std::size_t, std::string, AnyRef>> streamed, asked;
  for_each_referent_edge(
      objects, [&](std::size_t i, const char* label, std::size_t index, const AnyRef& target) {
        std::string text = label;
        if (index != Visitor::kNoIndex) text.append("[").append(std::to_string(index)).append("]");
        streamed.emplace_back(i, text, target);
      });
  for (std::size_t i = 0; i < objects.size(); ++i) {
    if (!objects[i]) continue;
    for (auto& e : get_referent_edges(objects[i])) asked.emplace_back(i, e.label, e.target);
  }
  EXPECT_EQ(streamed, asked);
  EXPECT_EQ(streamed.size(), 5u);  // k2's parent, root's three kids, k1's parent
  k1->parent = nullptr;
  k2->parent = nullptr;
}

TEST_F(IntrospectionTest, ReferrersFindEveryHolder) {
  auto target = make<Node>("target");
  auto a = make<Node>("a");
  auto b = make<Node>("b");
  a->next = target;
  b->next = target;
  auto referrers = get_referrers(target);
  ASSERT_EQ(referrers.size(), 2u);
  EXPECT_TRUE((referrers[0] == AnyRef(a) && referrers[1] == AnyRef(b)) ||
              (referrers[0] == AnyRef(b) && referrers[1] == AnyRef(a)));
  EXPECT_TRUE(get_referrers(a).empty());
}

TEST_F(IntrospectionTest, VisitorHandlesStandardWrappers) {
  struct Bag {
    std::map<int, Ref<Node>> by_id;
    std::optional<Ref<Node>> maybe;
    std::pair<Ref<Node>, int> pair;
    Weak<Node> weak;
    int not_a_ref = 3;
    std::string name = "bag";
    void trace(Visitor& v) const {
      v("by_id", by_id);
      v("maybe", maybe);
      v("pair", pair);
      v("weak", weak);
      v("not_a_ref", not_a_ref);
      v("name", name);
    }
  };
  auto bag = make<Bag>();
  auto n = make<Node>();
  bag->by_id[1] = n;
  bag->by_id[2] = n;
  bag->maybe = n;
  bag->pair.first = n;
  bag->weak = n;
  auto edges = get_referent_edges(bag);
  std::vector<std::string> labels;
  for (auto& e : edges) labels.push_back(e.label);
  EXPECT_EQ(labels, (std::vector<std::string>{"by_id[0]", "by_id[1]", "maybe", "pair"}));
}

TEST_F(IntrospectionTest, GetObjectsListsTrackedObjectsOnly) {
  auto n = make<Node>();
  auto i = make<int>(1);
  auto all = get_objects();
  EXPECT_NE(std::find(all.begin(), all.end(), AnyRef(n)), all.end());
  EXPECT_EQ(std::find(all.begin(), all.end(), AnyRef(i)), all.end());
  auto young = get_objects(0);
  EXPECT_NE(std::find(young.begin(), young.end(), AnyRef(n)), young.end());
}

}  // namespace
}  // namespace cyclegc::testing
