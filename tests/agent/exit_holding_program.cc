// A program that ends with std::exit deep in its call stack while main's frame still holds a
// large live graph (with cycles) and a local vector of results, and a global registry holds
// sessions: all of that is still reachable, not leaked. What it really leaks: event buses whose
// handlers (std::function, untraced) capture the bus, and the connections a leaked bus keeps
// alive through a traced edge. Built at -O2, as programs ship.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "cyclegc/cyclegc.h"

struct Node {
  int id = 0;
  cyclegc::Ref<Node> next, prev;
  void trace(cyclegc::Visitor& v) const {
    v("next", next);
    v("prev", prev);
  }
};

struct Result {
  std::string text;
  void trace(cyclegc::Visitor&) const {}
};

struct Session {
  std::string user;
  void trace(cyclegc::Visitor&) const {}
};
std::map<int, cyclegc::Ref<Session>> g_sessions;  // a global registry

struct Connection {
  int port = 0;
  void trace(cyclegc::Visitor&) const {}
};

struct Bus {
  std::vector<std::function<void()>> handlers;  // untraced: the captures are invisible
  cyclegc::Ref<Connection> connection;
  void trace(cyclegc::Visitor& v) const { v("connection", connection); }
};

[[gnu::noinline]] void leak_buses(int n) {
  for (int i = 0; i < n; ++i) {
    auto bus = cyclegc::make<Bus>();
    bus->connection = cyclegc::make<Connection>();
    bus->connection->port = 8000 + i;
    bus->handlers.push_back([bus] { std::printf("%zu\n", bus->handlers.size()); });
  }
}

// Exits from `depth` frames down, as a server's fatal-error path does.
volatile bool g_fatal = true;
[[gnu::noinline]] void finish(int depth, int status) {
  if (depth > 0) {
    finish(depth - 1, status);
  } else if (g_fatal) {
    std::fflush(stdout);
    std::exit(status);
  }
}

int main(int argc, char** argv) {
  const int nodes = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int buses = argc > 2 ? std::atoi(argv[2]) : 3;
  // A ring: every node in one big live cycle, held from this frame.
  cyclegc::Ref<Node> head = cyclegc::make<Node>();
  cyclegc::Ref<Node> tail = head;
  for (int i = 1; i < nodes; ++i) {
    auto n = cyclegc::make<Node>();
    n->id = i;
    n->prev = tail;
    tail->next = n;
    tail = n;
  }
  tail->next = head;
  head->prev = tail;
  tail = nullptr;
  std::vector<cyclegc::Ref<Result>> results;
  for (int i = 0; i < 2000; ++i) results.push_back(cyclegc::make<Result>());
  for (int i = 0; i < 50; ++i) {
    g_sessions[i] = cyclegc::make<Session>();
    g_sessions[i]->user = "user" + std::to_string(i);
  }
  leak_buses(buses);
  std::printf("holding %d nodes, %zu results, %zu sessions\n", nodes, results.size(),
              g_sessions.size());
  finish(20, 0);
  return 1;  // not reached
}
