// A plain std::shared_ptr program for the agent's heap analysis tests, one scenario per argument.
// Each leaks a known set of cycles through a different part of the standard library, or holds
// shared objects in ways that must never be called leaked.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <any>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

struct Kept {
  int value = 7;
};

// A raw holder the program leaks: what it holds is held from outside the shared graph, so it
// is never a cycle's garbage, whatever leaked objects once held it too.
std::shared_ptr<Kept>& held_by_raw(std::shared_ptr<Kept> p) {
  return *new std::shared_ptr<Kept>(std::move(p));
}

// Two nodes in a cycle that once held Kept objects through storage the standard library keeps
// after destroying them: a vector's capacity, a disengaged optional.
struct Stale {
  std::shared_ptr<Stale> peer;
  std::vector<std::shared_ptr<Kept>> items;
  std::optional<std::shared_ptr<Kept>> maybe;
};

void stale(bool with_optional) {
  auto& first = held_by_raw(std::make_shared<Kept>());
  auto& second = held_by_raw(std::make_shared<Kept>());
  auto a = std::make_shared<Stale>();
  auto b = std::make_shared<Stale>();
  a->peer = b;
  b->peer = a;
  a->items.reserve(8);
  a->items.push_back(first);
  a->items.push_back(second);
  a->items.pop_back();
  a->items.clear();
  b->items = {first, second, first};
  b->items.erase(b->items.begin() + 1, b->items.end());
  b->items.pop_back();
  if (with_optional) {
    b->maybe = second;
    b->maybe.reset();
  }
  std::printf("stale: %d %d\n", first->value, second->value);
}

// One cycle of two per container: each type's `back` closes it.
template <typename Tag>
struct Owner;
template <typename Tag>
struct Back {
  std::shared_ptr<Owner<Tag>> back;
};

struct InMap {};
struct InUnorderedMap {};
struct InList {};
struct InDeque {};
struct InSet {};
struct InUniquePtr {};
struct InFunction {};
struct InAny {};

template <>
struct Owner<InMap> {
  std::map<int, std::shared_ptr<Back<InMap>>> items;
};
template <>
struct Owner<InUnorderedMap> {
  std::unordered_map<std::string, std::shared_ptr<Back<InUnorderedMap>>> items;
};
template <>
struct Owner<InList> {
  std::list<std::shared_ptr<Back<InList>>> items;
};
template <>
struct Owner<InDeque> {
  std::deque<std::shared_ptr<Back<InDeque>>> items;
};
template <>
struct Owner<InSet> {
  std::set<std::shared_ptr<Back<InSet>>> items;
};
template <>
struct Owner<InUniquePtr> {
  struct Inner {
    std::string name = "inner";
    std::shared_ptr<Back<InUniquePtr>> item;
  };
  std::unique_ptr<Inner> inner = std::make_unique<Inner>();
};
template <>
struct Owner<InFunction> {
  std::function<int()> call;
};
template <>
struct Owner<InAny> {
  std::any item;
};

template <typename Tag>
std::pair<std::shared_ptr<Owner<Tag>>, std::shared_ptr<Back<Tag>>> pair_of() {
  auto owner = std::make_shared<Owner<Tag>>();
  auto back = std::make_shared<Back<Tag>>();
  back->back = owner;
  return {owner, back};
}

// A base class that is not the first: shared_ptr<Second> points inside the object.
struct First {
  virtual ~First() = default;
  long first = 1;
};
struct Second {
  virtual ~Second() = default;
  std::shared_ptr<Second> other;
};
struct Both : First, Second {};

struct Deleted {
  std::shared_ptr<Deleted> self;
};

void containers() {
  {
    auto [o, b] = pair_of<InMap>();
    o->items[1] = b;
  }
  {
    auto [o, b] = pair_of<InUnorderedMap>();
    o->items["one"] = b;
  }
  {
    auto [o, b] = pair_of<InList>();
    o->items.push_back(b);
  }
  {
    auto [o, b] = pair_of<InDeque>();
    o->items.push_front(b);
  }
  {
    auto [o, b] = pair_of<InSet>();
    o->items.insert(b);
  }
  {
    auto [o, b] = pair_of<InUniquePtr>();
    o->inner->item = b;
  }
  {
    auto [o, b] = pair_of<InFunction>();
    std::string padding(64, 'x');  // a closure this large lives in a block of its own
    o->call = [b, padding] { return static_cast<int>(padding.size()) + (b ? 1 : 0); };
  }
  {
    auto [o, b] = pair_of<InAny>();
    o->item = b;
  }
  {
    auto x = std::make_shared<Both>();
    auto y = std::make_shared<Both>();
    x->other = std::shared_ptr<Second>(y);
    y->other = std::shared_ptr<Second>(x);
  }
  {
    std::shared_ptr<Deleted> d(new Deleted, [](Deleted* p) { delete p; });
    d->self = d;
  }
  std::puts("containers: 10 cycles dropped");
}

// Cycles that are alive when the program ends: held by a thread that never returns, and by a
// leaked raw pointer. Neither is the collector's garbage.
struct Ring {
  std::shared_ptr<Ring> next;
};

std::shared_ptr<Ring> ring(int n) {
  auto first = std::make_shared<Ring>();
  auto last = first;
  for (int i = 1; i < n; ++i) last = last->next = std::make_shared<Ring>();
  last->next = first;
  return first;
}

void alive() {
  std::mutex m;
  std::condition_variable started;
  bool ready = false;
  std::thread([&] {
    auto held = ring(5);  // this thread's stack holds it until the process ends
    {
      std::lock_guard<std::mutex> lock(m);
      ready = true;
    }
    started.notify_one();
    std::mutex never;
    std::unique_lock<std::mutex> wait(never);
    std::condition_variable().wait(wait, [] { return false; });
  }).detach();
  std::unique_lock<std::mutex> lock(m);
  started.wait(lock, [&] { return ready; });
  new std::shared_ptr<Ring>(ring(3));
  ring(4);  // the one leak
  std::puts("alive: two rings held, one dropped");
}

// Reports taken while threads keep allocating and move shared_ptrs between live objects: two
// threads swap the peers of live pairs as fast as they can and drop a ring of three every few
// thousand rounds, while the main thread raises the dump signal. Only rings may ever be
// reported.
struct Live {
  std::shared_ptr<Live> peer;
  std::vector<std::shared_ptr<Live>> spare;
};
struct Leak {
  std::shared_ptr<Leak> next;
};

void busy(int seconds) {
  std::atomic<bool> stop{false};
  std::atomic<int> rings{0};
  auto work = [&] {
    std::vector<std::shared_ptr<Live>> held;
    for (int i = 0; i < 64; ++i) held.push_back(std::make_shared<Live>());
    for (int i = 0; i < 64; ++i) held[i]->peer = std::make_shared<Live>();
    for (long round = 0; !stop.load(std::memory_order_relaxed); ++round) {
      auto& a = held[round % 64];
      auto& b = held[(round * 7 + 3) % 64];
      std::swap(a->peer, b->peer);
      a->spare.push_back(b->peer);
      if (a->spare.size() > 4) a->spare.erase(a->spare.begin());
      if (round % 5000 == 0) {
        auto first = std::make_shared<Leak>();
        first->next = std::make_shared<Leak>();
        first->next->next = std::make_shared<Leak>();
        first->next->next->next = first;
        rings.fetch_add(1);
      }
    }
  };
  std::thread one(work), two(work);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    raise(SIGUSR1);
  }
  stop = true;
  one.join();
  two.join();
  std::printf("busy: %d rings dropped\n", rings.load());
}

// fork() while another thread allocates, a child that leaks its own cycle and one that execs:
// each process that leaks writes its own report, and none hangs on a lock held across fork.
struct ParentLeak {
  std::shared_ptr<ParentLeak> self;
};
struct ChildLeak {
  std::shared_ptr<ChildLeak> self;
};

void forks() {
  std::atomic<bool> stop{false};
  std::thread churn([&] {
    while (!stop.load(std::memory_order_relaxed)) auto p = std::make_shared<Kept>();
  });
  for (int i = 0; i < 20; ++i) {
    const pid_t leaker = fork();
    if (leaker == 0) {
      {
        auto c = std::make_shared<ChildLeak>();
        c->self = c;
      }
      std::exit(0);  // exit() unwinds no stack: a pointer left there would hold the cycle
    }
    const pid_t execer = fork();
    if (execer == 0) {
      execl("/bin/true", "true", static_cast<char*>(nullptr));
      _exit(127);
    }
    int status = 0;
    waitpid(leaker, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::printf("leaker failed\n");
    waitpid(execer, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) std::printf("execer failed\n");
  }
  stop = true;
  churn.join();
  auto p = std::make_shared<ParentLeak>();
  p->self = p;
  std::puts("forks: 20 rounds");
}

// n shared objects held to the end by a leaked raw holder, and n / 100 dropped rings of four.
struct Item {
  long id = 0;
  std::shared_ptr<Item> next;
};

void live(long n) {
  auto* kept = new std::vector<std::shared_ptr<Item>>;
  kept->reserve(n);
  for (long i = 0; i < n; ++i) kept->push_back(std::make_shared<Item>());
  for (long r = 0; r < n / 100; ++r) {
    auto first = std::make_shared<Item>();
    auto last = first;
    for (int k = 1; k < 4; ++k) last = last->next = std::make_shared<Item>();
    last->next = first;
  }
  std::printf("live: %zu kept\n", kept->size());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "stale") {
    stale(true);
  } else if (what == "stale-vector") {
    stale(false);
  } else if (what == "containers") {
    containers();
  } else if (what == "alive") {
    alive();
  } else if (what == "live") {
    live(argc > 2 ? std::atol(argv[2]) : 1000000);
  } else if (what == "forks") {
    forks();
  } else if (what == "busy") {
    busy(argc > 2 ? std::atoi(argv[2]) : 2);
  } else {
    std::fprintf(stderr,
                 "usage: %s stale|stale-vector|containers|alive|busy [seconds]|forks|live [n]\n",
                 argv[0]);
    return 2;
  }
  return 0;
}
