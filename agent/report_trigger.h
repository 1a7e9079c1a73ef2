// When a report is due while the program runs: on the dump signal, and every interval_ms. Both
// report writers use it — the collector's agent (agent.cc) and, in a process without
// libcyclegc, the std::shared_ptr heap's (preload.cc) — so that both follow one set of rules
// (README, "The agent's safety rules"): only a signal the program leaves at its default is
// taken; the handler only posts a semaphore (async-signal-safe, and no descriptor to steal); a
// thread of the trigger's own writes the report.
#pragma once

#include <semaphore.h>

#include <atomic>
#include <thread>

namespace cyclegc::agent {

class ReportTrigger {
 public:
  using Write = void (*)(const char* reason);  // "signal" or "interval"

  // Takes `dump_signal` (0: none) and starts the writer when it or `interval_ms` asks for one.
  void start(int dump_signal, int interval_ms, Write write);
  // No report after it returns: the writer is joined. The signal stays taken (a dump signal
  // during the exit report must not kill the process), its handler posting to no one.
  void stop();
  // As stop(), without waiting for a report under way to finish.
  void stop_soon();
  // Gives a signal taken back to its default, for another writer to take.
  void release_signal();
  // fork(): the child has no writer thread (it is started anew) and a fresh semaphore.
  void after_fork_child();

 private:
  static void on_signal(int);
  void run();

  Write write_ = nullptr;
  int signal_ = 0;  // taken, or 0
  int interval_ms_ = 0;
  sem_t wake_{};
  std::atomic<bool> signalled_{false};
  std::atomic<bool> stopping_{false};
  std::thread* worker_ = nullptr;
};

}  // namespace cyclegc::agent
