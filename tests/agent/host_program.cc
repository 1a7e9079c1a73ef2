// For host_safety_test.cc: a program that does what real hosts do to a preloaded agent — faults,
// writes into a closed pipe, forks while threads allocate, closes every descriptor it did not
// open, leaves unflushed output at exit, has reprs that throw or read globals, grows plain
// containers while reports are taken — each mode one of them. Every mode leaves a cycle, so
// that the agent has something to report.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cyclegc/cyclegc.h"

namespace {

struct Node {
  std::string name;
  cyclegc::Ref<Node> next;
  cyclegc::Ref<Node> prev;
  std::vector<cyclegc::Ref<Node>> kids;
  explicit Node(std::string n = "") : name(std::move(n)) {}
  void trace(cyclegc::Visitor& v) const {
    v("next", next);
    v("prev", prev);
    v("kids", kids);
  }
  std::string repr() const { return "Node(" + name + ")"; }
};

void leave_a_cycle(const char* name = "cycle") {
  auto a = cyclegc::make<Node>(name);
  a->next = cyclegc::make<Node>(name);
  a->next->next = a;
}

// Segfaults for real (not raise()): a handler that returns resumes the faulting instruction.
int fault() {
  leave_a_cycle();
  volatile int* nowhere = nullptr;
  return *nowhere;
}

int print_lines(long n) {
  leave_a_cycle();
  for (long i = 0; i < n; ++i) std::printf("line %ld\n", i);
  return 0;
}

int own_handler() {
  static volatile sig_atomic_t ran = 0;
  struct sigaction sa {};
  sa.sa_handler = [](int) { ran = 1; };
  sigaction(SIGUSR1, &sa, nullptr);
  leave_a_cycle();
  raise(SIGUSR1);
  std::printf("program's handler ran: %d\n", static_cast<int>(ran));
  return 0;
}

// raise()s `sig`, which the environment ignores; prints that the program survived.
int raise_ignored(int sig) {
  leave_a_cycle();
  raise(sig);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::printf("survived signal %d\n", sig);
  return 0;
}

// Forks `children` times while two threads allocate and drop cycles; every child makes a cycle
// and exits through exit(). Prints how many children did not finish within 10 s.
// A factory template, as programs write them: its demangled name begins with its return type,
// cyclegc::Ref<...>. Not inlined, so that it is a frame of its own.
template <class T>
__attribute__((noinline)) cyclegc::Ref<T> make_looped(const char* name) {
  auto node = cyclegc::make<T>(name);
  node->next = node;
  return node;
}

int fork_storm(int children) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&stop] {
      while (!stop.load()) leave_a_cycle("churn");
    });
  }
  int hung = 0;
  for (int i = 0; i < children; ++i) {
    const pid_t child = fork();
    if (child == 0) {
      leave_a_cycle("child");
      cyclegc::collect();
      std::exit(0);
    }
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (waitpid(child, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ++hung;
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  std::printf("hung: %d of %d\n", hung, children);
  return 0;
}

// fork() while another thread makes the process's first tracked object, which is when the
// agent sets itself up: each child makes an object of its own and exits. A child that inherits
// the agent half set up (its lock held by a thread the child does not have) hangs.
int fork_at_activation(int children) {
  std::atomic<bool> started{false};
  std::thread first([&started] {
    started = true;
    leave_a_cycle("first");
  });
  while (!started.load()) {
  }
  std::vector<pid_t> forked;
  for (int i = 0; i < children; ++i) {  // back to back, to land inside the set-up
    const pid_t child = fork();
    if (child == 0) {
      leave_a_cycle("child");
      _exit(0);
    }
    forked.push_back(child);
  }
  first.join();
  int hung = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (pid_t child : forked) {
    int status = 0;
    while (waitpid(child, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ++hung;
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::printf("hung: %d of %d\n", hung, children);
  return 0;
}

// A daemon's start: every descriptor above 2 is closed, then the program opens its own files,
// which get the numbers the agent's descriptors had. Then it sends itself `sig` (0: none) and
// waits a while, and checks that its files were neither written nor read by anyone else.
int close_fds(int sig) {
  leave_a_cycle();
  if (DIR* d = opendir("/proc/self/fd")) {
    std::vector<int> fds;
    while (dirent* e = readdir(d)) {
      const int fd = std::atoi(e->d_name);
      if (fd > 2 && fd != dirfd(d)) fds.push_back(fd);
    }
    closedir(d);
    for (int fd : fds) close(fd);
  }
  std::FILE* input = std::fopen("input.txt", "w");
  std::fputs("the program's input\n", input);
  std::fclose(input);
  std::vector<int> inputs, outputs;
  for (int i = 0; i < 4; ++i) {
    inputs.push_back(open("input.txt", O_RDONLY));
    outputs.push_back(
        open(("data" + std::to_string(i) + ".txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  }
  for (int i = 0; i < 3 && sig; ++i) {
    raise(sig);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int intact = 0;
  for (int fd : inputs) {
    char buf[64] = {};
    const ssize_t n = read(fd, buf, sizeof buf - 1);
    intact += n > 0 && std::strcmp(buf, "the program's input\n") == 0;
  }
  int clean = 0;
  for (int fd : outputs) clean += lseek(fd, 0, SEEK_END) == 0;
  std::printf("inputs intact: %d of 4; outputs untouched: %d of 4\n", intact, clean);
  return 0;
}

// Output the C library still buffers when exit() starts: a file never closed, and stdout
// (a pipe, so fully buffered) without a newline.
int unflushed() {
  leave_a_cycle();
  std::FILE* f = std::fopen("unflushed.txt", "w");
  std::fputs("the program's last words", f);
  std::fputs("stdout without a newline", stdout);
  return 0;
}

std::map<int, std::string> g_names = {{1, "one"}, {2, "two"}};

struct Throwing {
  cyclegc::Ref<Throwing> self;
  void trace(cyclegc::Visitor& v) const { v("self", self); }
  std::string repr() const { throw std::runtime_error("repr failed"); }
};
struct ReadsGlobal {
  cyclegc::Ref<ReadsGlobal> self;
  void trace(cyclegc::Visitor& v) const { v("self", self); }
  std::string repr() const { return "ReadsGlobal(" + g_names.at(1) + ")"; }
};

int reprs() {
  auto t = cyclegc::make<Throwing>();
  t->self = t;
  auto g = cyclegc::make<ReadsGlobal>();
  g->self = g;
  std::printf("made\n");
  return 0;
}

// A garbage cycle of two with a tail of `n` nodes hanging off it.
int tail(int n) {
  auto a = cyclegc::make<Node>("a");
  a->next = cyclegc::make<Node>("b");
  a->next->next = a;
  cyclegc::Ref<Node> end = a;
  for (int i = 0; i < n; ++i) {
    end->kids.push_back(cyclegc::make<Node>("tail"));
    end = end->kids.back();
  }
  return 0;
}

// A leaked doubly linked list of `n` nodes: one strongly connected component.
int doubly_linked(int n) {
  auto head = cyclegc::make<Node>("head");
  cyclegc::Ref<Node> end = head;
  for (int i = 1; i < n; ++i) {
    end->next = cyclegc::make<Node>("node");
    end->next->prev = end;
    end = end->next;
  }
  return 0;
}

// A thread grows and shrinks a plain vector of Refs in an object while the agent reports.
int grow_vector(int millis) {
  auto owner = cyclegc::make<Node>("owner");
  owner->next = owner;
  std::atomic<bool> stop{false};
  std::thread grower([&] {
    auto held = cyclegc::make<Node>("held");
    while (!stop.load()) {
      for (int i = 0; i < 1000; ++i) owner->kids.push_back(held);
      owner->kids.clear();
      owner->kids.shrink_to_fit();
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(millis));
  stop = true;
  grower.join();
  std::printf("grew for %d ms\n", millis);
  return 0;
}

// A gc callback that notes whether any collection ran with DEBUG_SAVEALL in force although the
// program never asked for it: the agent's own collections must keep their garbage without
// changing the flags every other collection reads. Printed by a static destructor, after the
// agent's collection at the program's end.
std::atomic<bool> g_saw_saveall{false};
struct PrintFlagsAtTeardown {
  ~PrintFlagsAtTeardown() {
    std::printf("saw DEBUG_SAVEALL: %s\n", g_saw_saveall.load() ? "yes" : "no");
  }
};

int watch_flags() {
  static PrintFlagsAtTeardown print;
  cyclegc::add_callback([](cyclegc::Phase, const cyclegc::CollectionInfo&) {
    if (cyclegc::get_debug() & cyclegc::DEBUG_SAVEALL) g_saw_saveall = true;
  });
  leave_a_cycle();
  cyclegc::collect();  // the program's own: its garbage is freed
  leave_a_cycle();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const long n = argc > 2 ? std::atol(argv[2]) : 0;
  if (mode == "fault") return fault();
  if (mode == "print") return print_lines(n);
  if (mode == "own-handler") return own_handler();
  if (mode == "raise") return raise_ignored(static_cast<int>(n));
  if (mode == "fork-storm") return fork_storm(static_cast<int>(n));
  if (mode == "fork-at-activation") return fork_at_activation(static_cast<int>(n));
  if (mode == "close-fds") return close_fds(static_cast<int>(n));
  if (mode == "unflushed") return unflushed();
  if (mode == "reprs") return reprs();
  if (mode == "tail") return tail(static_cast<int>(n));
  if (mode == "doubly-linked") return doubly_linked(static_cast<int>(n));
  if (mode == "grow-vector") return grow_vector(static_cast<int>(n));
  if (mode == "watch-flags") return watch_flags();
  if (mode == "factory") {
    make_looped<Node>("made");
    return 0;
  }
  if (mode == "cycle") {
    leave_a_cycle();
    std::printf("main ran\n");
    return 0;
  }
  std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
  return 2;
}
