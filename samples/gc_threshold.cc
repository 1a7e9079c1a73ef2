// gc_threshold: a small generation-0 threshold makes collections run while objects are created.
// Usage: gc_threshold [THRESHOLD]; a missing or invalid value falls back to 5.
#include <charconv>

#include "graph.h"

struct MyObj {
  std::string name;
  explicit MyObj(int n) : name(std::to_string(n)) { std::cout << "Created " << name << "\n"; }
  void trace(cyclegc::Visitor&) const {}  // a container like any Python instance, with no refs
};

static bool parse_threshold(int argc, char** argv, long& out) {
  if (argc < 2) return false;
  const char* end = argv[1] + std::strlen(argv[1]);
  auto [ptr, ec] = std::from_chars(argv[1], end, out);
  return ec == std::errc() && ptr == end && out >= 0;
}

int main(int argc, char** argv) {
  unbuffered_output();
  long threshold;
  if (!parse_threshold(argc, argv, threshold)) {
    std::cout << "Missing or invalid threshold, using default\n";
    threshold = 5;
  }

  // Collections on the allocating thread, as in CPython, so they show up between the objects.
  cyclegc::set_background(false);
  cyclegc::set_debug(cyclegc::DEBUG_STATS);
  cyclegc::set_threshold(threshold, 1, 1);
  auto [t0, t1, t2] = cyclegc::get_threshold();
  std::cout << "Thresholds: (" << t0 << ", " << t1 << ", " << t2 << ")\n";

  std::cout << "Clear the collector by forcing a run\n";
  cyclegc::collect();
  std::cout << "\n";

  std::cout << "Creating objects\n";
  std::vector<cyclegc::Ref<MyObj>> objs;
  for (int i = 0; i < 10; ++i) objs.push_back(cyclegc::make<MyObj>(i));
  std::cout << "Exiting\n";

  cyclegc::set_debug(0);
}
