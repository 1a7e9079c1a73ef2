// collect_time_event: the two manual strategies of the third article. Automatic collection is
// disabled; a time-based loop collects on a fixed interval, and an event-based server collects
// when a client disconnects (an opportune, idle moment).
#include <chrono>
#include <thread>

#include "graph.h"

// make_cycle() of the article: an object that refers to itself.
static void make_cycle() {
  auto l = cyclegc::make<Graph>("l");
  l->set_next(l, false);
}

static void time_based() {
  std::cout << "Time-based: collect every 20 ms\n";
  using clock = std::chrono::steady_clock;
  auto next_collection = clock::now() + std::chrono::milliseconds(20);
  for (int tick = 0; tick < 6; ++tick) {
    for (int i = 0; i < 10; ++i) make_cycle();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (clock::now() >= next_collection) {
      std::cout << "Garbage collector: collected " << cyclegc::collect() << " objects.\n";
      next_collection += std::chrono::milliseconds(20);
    }
  }
}

static void event_based() {
  std::cout << "\nEvent-based: collect when a client disconnects\n";
  for (int client = 1; client <= 3; ++client) {
    std::cout << "Client " << client << " connected\n";
    for (int i = 0; i < client * 4; ++i) make_cycle();  // the session leaves cycles behind
    std::cout << "Client " << client << " disconnected\n";
    std::cout << "Garbage collector: collected " << cyclegc::collect() << " objects.\n";
  }
}

int main() {
  unbuffered_output();
  cyclegc::disable();
  std::cout << "Garbage collector: collected " << cyclegc::collect() << " objects.\n";
  std::cout << "Creating cycles...\n";
  for (int i = 0; i < 10; ++i) make_cycle();
  std::cout << "Garbage collector: collected " << cyclegc::collect() << " objects.\n\n";
  time_based();
  event_based();
}
