// The std::shared_ptr heap analysis (agent/heap_scan.h) on heaps built in the test itself: the
// objects are made with allocators that record their blocks in a LiveBlocks table, as the
// preloaded hooks would, so the analysis runs here under every sanitizer, which the hooks
// cannot (a sanitizer runtime owns malloc).
#include "heap_scan.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "live_blocks.h"
#include "memory_map.h"

namespace cyclegc::agent {
namespace {

LiveBlocks* g_blocks = nullptr;  // the table the recording allocator fills

template <typename T>
struct Recording {
  using value_type = T;
  Recording() = default;
  template <typename U>
  Recording(const Recording<U>&) {}
  T* allocate(std::size_t n) {
    void* p = ::operator new(n * sizeof(T));
    g_blocks->insert(reinterpret_cast<std::uintptr_t>(p), n * sizeof(T), 0);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) {
    g_blocks->erase(reinterpret_cast<std::uintptr_t>(p));
    ::operator delete(p);
  }
  template <typename U>
  bool operator==(const Recording<U>&) const {
    return true;
  }
};

template <typename T, typename... Args>
std::shared_ptr<T> make(Args&&... args) {
  return std::allocate_shared<T>(Recording<T>(), std::forward<Args>(args)...);
}

struct Node {
  int id = 0;
  std::shared_ptr<Node> next;
  std::weak_ptr<Node> back;
  std::vector<std::shared_ptr<Node>, Recording<std::shared_ptr<Node>>> kids;
};

class HeapScanTest : public ::testing::Test {
 protected:
  void SetUp() override { g_blocks = blocks_.get(); }
  // The objects these tests leak on purpose are freed here, so that LeakSanitizer sees none.
  void TearDown() override {
    for (Node* n : all_) {  // the last reference to `n` goes with these
      auto next = std::move(n->next);
      auto kids = std::move(n->kids);
    }
    all_.clear();
    g_blocks = nullptr;
  }

  // The analysis, without debug information: the weak counts decide. Ids of leaked nodes.
  std::vector<int> leaked() {
    auto map = detail::MemoryMap::read_self();
    EXPECT_TRUE(map.has_value());
    blocks_->lock_all();
    analysis_ =
        analyze_heap(*blocks_, *map, [](const auto&) -> const DebugFields* { return nullptr; });
    blocks_->unlock_all();
    std::vector<int> ids;
    for (const SharedObject& o : analysis_.objects) {
      EXPECT_THAT(analysis_.types[o.type], ::testing::HasSubstr("Node"));
      if (o.leaked) ids.push_back(reinterpret_cast<const Node*>(o.value)->id);
    }
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  std::shared_ptr<Node> node(int id) {
    auto n = make<Node>();
    n->id = id;
    return n;
  }

  // Remembers one node of a cycle the test drops, for TearDown to break: by address, as a
  // reference of any kind would hold it or add to its weak count.
  void keep(const std::shared_ptr<Node>& n) { all_.push_back(n.get()); }
  std::vector<Node*> all_;

  std::unique_ptr<LiveBlocks> blocks_ = std::make_unique<LiveBlocks>();
  HeapAnalysis analysis_;
};

TEST_F(HeapScanTest, ADroppedCycleIsLeakedAndAHeldOneIsNot) {
  auto held = node(1), a = node(2), b = node(3);
  held->next = node(4);
  held->next->next = held;
  a->next = b;
  b->next = a;
  keep(a);
  a.reset();
  b.reset();
  EXPECT_THAT(leaked(), ::testing::ElementsAre(2, 3));
  held->next->next.reset();
}

TEST_F(HeapScanTest, AWeakBackPointerClosesNoCycle) {
  auto parent = node(1);
  for (int i = 0; i < 3; ++i) {
    auto kid = node(10 + i);
    kid->back = parent;
    parent->kids.push_back(kid);
  }
  auto orphan = node(2), child = node(3);  // a dropped cycle beside it, for contrast
  orphan->kids.push_back(child);
  child->next = orphan;
  keep(orphan);
  orphan.reset();
  child.reset();
  EXPECT_THAT(leaked(), ::testing::ElementsAre(2, 3));
}

// A vector's elements past its end were destroyed, and a destroyed shared_ptr leaves its words:
// counted, they would explain the reference `held` has, and call node 9 leaked.
TEST_F(HeapScanTest, AVectorsCapacityPastItsEndHoldsNoReference) {
  auto held = node(9);
  auto a = node(1), b = node(2);
  a->next = b;
  b->next = a;
  a->kids.reserve(8);
  for (int i = 0; i < 5; ++i) a->kids.push_back(held);
  a->kids.resize(1);
  a->kids.pop_back();
  keep(a);
  a.reset();
  b.reset();
  EXPECT_THAT(leaked(), ::testing::ElementsAre(1, 2));
}

TEST_F(HeapScanTest, ControlBlockNamesGiveTheSharedType) {
  EXPECT_EQ(shared_type_of("std::_Sp_counted_ptr_inplace<Node, std::allocator<void>, "
                           "(__gnu_cxx::_Lock_policy)2>"),
            "Node");
  EXPECT_EQ(shared_type_of("std::_Sp_counted_ptr<std::map<int, Session>*, "
                           "(__gnu_cxx::_Lock_policy)2>"),
            "std::map<int, Session>");
  EXPECT_EQ(shared_type_of("std::_Sp_counted_deleter<Conn*, main::{lambda(Conn*)#1}, "
                           "std::allocator<void>, (__gnu_cxx::_Lock_policy)2>"),
            "Conn");
  EXPECT_EQ(shared_type_of("std::_Sp_counted_ptr<int, (__gnu_cxx::_Lock_policy)2>"), "");
  EXPECT_EQ(shared_type_of("std::_Sp_make_shared_tag"), "");
  EXPECT_EQ(shared_type_of("Node"), "");
}

// The table under the hooks' use: threads inserting and erasing their own blocks while another
// takes every lock and reads the whole table, as the exit scan does (run under TSan in CI).
TEST(LiveBlocksTest, ThreadsInsertAndEraseWhileAScanReadsEverything) {
  auto blocks = std::make_unique<LiveBlocks>();
  constexpr int kThreads = 4, kBlocks = 20000;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::uintptr_t base = (static_cast<std::uintptr_t>(t) + 1) << 32;
      for (int i = 0; i < kBlocks; ++i) blocks->insert(base + 16 * i, 16, t + 1);
      for (int i = 0; i < kBlocks; i += 2) blocks->erase(base + 16 * i);
    });
  }
  std::thread scanner([&] {
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::microseconds(200));  // let the writers in
      blocks->lock_all();
      std::size_t seen = 0;
      blocks->for_each_locked([&](const LiveBlock& b) {
        EXPECT_EQ(b.size, 16u);
        EXPECT_EQ(b.stack, (b.address >> 32));
        ++seen;
      });
      EXPECT_EQ(seen, blocks->size_locked());
      blocks->unlock_all();
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  scanner.join();
  blocks->lock_all();
  EXPECT_EQ(blocks->size_locked(), static_cast<std::size_t>(kThreads * kBlocks / 2));
  for (int t = 0; t < kThreads; ++t) {
    const std::uintptr_t base = (static_cast<std::uintptr_t>(t) + 1) << 32;
    EXPECT_EQ(blocks->find_locked(base), nullptr);
    ASSERT_NE(blocks->find_locked(base + 16), nullptr);
    EXPECT_EQ(blocks->find_locked(base + 16)->stack, static_cast<std::uint32_t>(t + 1));
  }
  blocks->unlock_all();
}

}  // namespace
}  // namespace cyclegc::agent
