// Ref, Weak, make and AnyRef: ownership and refcounting without the collector.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "gc_fixture.h"

namespace cyclegc::testing {
namespace {

struct Plain {  // no trace: refcounted, never tracked
  static inline int live = 0;
  int value;
  explicit Plain(int v) : value(v) { ++live; }
  ~Plain() { --live; }
};

struct alignas(64) Wide {
  char bytes[64];
};

using RefTest = GcTest;

TEST_F(RefTest, RefAndWeakAreTwoWordsLikeSharedPtrAndHeaderIsTwo) {
  EXPECT_EQ(sizeof(Ref<Node>), sizeof(std::shared_ptr<Node>));
  EXPECT_EQ(sizeof(Weak<Node>), sizeof(std::weak_ptr<Node>));
  EXPECT_EQ(sizeof(detail::ObjectHeader), 16u);
  EXPECT_EQ(detail::TypeInfoFor<Plain>::get().block_size, 16u + sizeof(Plain));
  EXPECT_EQ(detail::TypeInfoFor<Node>::get().block_size, 32u + sizeof(Node));
}

TEST_F(RefTest, CopyAndDestroyCount) {
  auto a = make<Plain>(7);
  EXPECT_EQ(a.use_count(), 1u);
  {
    Ref<Plain> b = a;
    EXPECT_EQ(a.use_count(), 2u);
    EXPECT_EQ(b->value, 7);
  }
  EXPECT_EQ(a.use_count(), 1u);
  a = nullptr;
  EXPECT_EQ(Plain::live, 0);
}

TEST_F(RefTest, MoveTransfersWithoutCounting) {
  auto a = make<Plain>(1);
  Ref<Plain> b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): moved-from is empty by contract
  EXPECT_EQ(b.use_count(), 1u);
  Ref<Plain> c;
  c = std::move(b);
  EXPECT_EQ(c.use_count(), 1u);
  c = c;  // self-assignment keeps the object
  EXPECT_EQ(c->value, 1);
  c.reset();
  EXPECT_EQ(Plain::live, 0);
}

TEST_F(RefTest, UntrackedTypesAreNotTracked) {
  auto p = make<Plain>(1);
  auto n = make<Node>("n");
  EXPECT_FALSE(is_tracked(p));
  EXPECT_TRUE(is_tracked(n));
  EXPECT_EQ(refcount(n), 1u);
  EXPECT_EQ(refcount(AnyRef(n)), 2u);  // the AnyRef is a reference too
}

TEST_F(RefTest, OverAlignedTypesAreAligned) {
  auto w = make<Wide>();
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(w.get()) % 64, 0u);
}

TEST_F(RefTest, ConstructorExceptionLeaksNothing) {
  struct Throws {
    Throws() { throw std::runtime_error("no"); }
  };
  EXPECT_THROW(make<Throws>(), std::runtime_error);
}

TEST_F(RefTest, WeakLocksWhileAliveAndExpiresAfter) {
  Weak<Node> w;
  {
    auto n = make<Node>("x");
    w = n;
    EXPECT_FALSE(w.expired());
    auto locked = w.lock();
    ASSERT_TRUE(locked);
    EXPECT_EQ(locked->name, "x");
  }
  EXPECT_TRUE(w.expired());
  EXPECT_FALSE(w.lock());
  EXPECT_EQ(Node::live, 0);
}

TEST_F(RefTest, AnyRefRoundTripsTypes) {
  auto n = make<Node>("one");
  AnyRef any = n;
  EXPECT_STREQ(any.type_name(), "cyclegc::testing::Node");
  EXPECT_EQ(any.repr(), "Node(one)");
  EXPECT_TRUE(any.is<Node>());
  EXPECT_FALSE(any.is<Plain>());
  EXPECT_EQ(any.as<Node>(), n);
  EXPECT_FALSE(any.as<Plain>());
  EXPECT_EQ(any.address(), n.get());
}

TEST_F(RefTest, ReprFallsBackToTypeAndAddress) {
  AnyRef any = make<Plain>(3);
  EXPECT_EQ(any.repr().rfind("<cyclegc::testing::(anonymous namespace)::Plain 0x", 0), 0u)
      << any.repr();
}

TEST_F(RefTest, DestroyingTenMillionChainDoesNotRecurse) {
  constexpr int kLength = 10'000'000;
  disable();
  {
    auto head = make<Node>();
    Node* tail = head.get();
    for (int i = 1; i < kLength; ++i) {
      tail->next = make<Node>();
      tail = tail->next.get();
    }
    EXPECT_EQ(Node::live, kLength);
  }
  EXPECT_EQ(Node::live, 0);
}

}  // namespace
}  // namespace cyclegc::testing
