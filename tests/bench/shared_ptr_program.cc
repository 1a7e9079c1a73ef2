// A plain std::shared_ptr program for the agent's heap benchmarks (agent_bench.cc).
//   churn N [T]: allocation-bound — N rounds of make_shared, vector growth, map inserts and
//            erases, almost everything freed at once, as a server's request loop does; on T
//            threads, N / T rounds each.
//   live N:  N shared objects alive at exit in a map of vectors, and N / 100 leaked rings of
//            four, for the exit analysis to walk.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Item {
  long id = 0;
  std::shared_ptr<Item> next;
  std::vector<std::shared_ptr<Item>> kids;
};

long churn(long n) {
  std::map<long, std::shared_ptr<Item>> recent;
  long sum = 0;
  for (long i = 0; i < n; ++i) {
    auto item = std::make_shared<Item>();
    item->id = i;
    for (int k = 0; k < 3; ++k) item->kids.push_back(std::make_shared<Item>());
    recent[i] = item;
    if (i >= 64) recent.erase(i - 64);
    sum += static_cast<long>(item->kids.size());
  }
  return sum;
}

long live(long n) {
  static auto* kept = new std::map<long, std::vector<std::shared_ptr<Item>>>;  // held to the end
  for (long i = 0; i < n; ++i) {
    auto item = std::make_shared<Item>();
    item->id = i;
    (*kept)[i / 16].push_back(item);
  }
  for (long r = 0; r < n / 100; ++r) {
    auto first = std::make_shared<Item>();
    auto last = first;
    for (int k = 1; k < 4; ++k) last = last->next = std::make_shared<Item>();
    last->next = first;
  }
  return static_cast<long>(kept->size());
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  const long n = argc > 2 ? std::atol(argv[2]) : 100000;
  if (what == "churn") {
    const int threads = argc > 3 ? std::atoi(argv[3]) : 1;
    if (threads <= 1) {  // on the main thread: a single-threaded process, as most tools are
      std::printf("%ld\n", churn(n));
      return 0;
    }
    std::vector<std::thread> workers;
    std::vector<long> sums(threads);
    for (int t = 0; t < threads; ++t)
      workers.emplace_back([&, t] { sums[t] = churn(n / threads); });
    for (auto& w : workers) w.join();
    long sum = 0;
    for (long x : sums) sum += x;
    std::printf("%ld\n", sum);
  } else if (what == "live") {
    std::printf("%ld\n", live(n));
  } else {
    std::fprintf(stderr, "usage: %s churn N [threads] | live N\n", argv[0]);
    return 2;
  }
  return 0;
}
