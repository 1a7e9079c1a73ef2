#include "report_trigger.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace cyclegc::agent {
namespace {

using Clock = std::chrono::steady_clock;

// The trigger the handler posts to: one per object that links this file, as each is built with
// hidden symbols.
std::atomic<ReportTrigger*> g_trigger{nullptr};

// Takes `sig` when the program leaves it at its default action; a signal the process ignores
// (nohup, trap '' SIG) or already handles stays the program's, with one line.
bool take(int sig, void (*handler)(int)) {
  struct sigaction old {};
  if (sigaction(sig, nullptr, &old) != 0) return false;
  const char* name = sigabbrev_np(sig);
  if ((old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) {
    std::fprintf(stderr, "cyclegc: not taking dump_signal SIG%s: the program %s it\n",
                 name ? name : "?", old.sa_handler == SIG_IGN ? "ignores" : "handles");
    return false;
  }
  struct sigaction sa {};
  sa.sa_handler = handler;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, nullptr) != 0) {
    std::fprintf(stderr, "cyclegc: cannot take dump_signal SIG%s: %s\n", name ? name : "?",
                 strerror(errno));
    return false;
  }
  return true;
}

}  // namespace

void ReportTrigger::on_signal(int) {
  const int saved = errno;
  if (ReportTrigger* t = g_trigger.load(std::memory_order_acquire)) {
    t->signalled_.store(true, std::memory_order_relaxed);
    sem_post(&t->wake_);
  }
  errno = saved;
}

void ReportTrigger::start(int dump_signal, int interval_ms, Write write) {
  write_ = write;
  interval_ms_ = interval_ms;
  sem_init(&wake_, 0, 0);
  g_trigger.store(this, std::memory_order_release);
  if (dump_signal != 0 && take(dump_signal, on_signal)) signal_ = dump_signal;
  if (signal_ != 0 || interval_ms_ > 0) worker_ = new std::thread(&ReportTrigger::run, this);
}

void ReportTrigger::release_signal() {
  if (signal_ == 0) return;
  struct sigaction now {};
  // Only our own handler is given back: the program may have installed its own since.
  if (sigaction(signal_, nullptr, &now) == 0 && now.sa_handler == on_signal) {
    signal(signal_, SIG_DFL);
  }
  signal_ = 0;
}

void ReportTrigger::stop_soon() {
  stopping_ = true;
  if (worker_ != nullptr) sem_post(&wake_);
}

void ReportTrigger::stop() {
  stopping_ = true;
  if (worker_ == nullptr) return;
  sem_post(&wake_);
  worker_->join();
  delete worker_;
  worker_ = nullptr;
}

void ReportTrigger::after_fork_child() {
  sem_init(&wake_, 0, 0);
  worker_ = nullptr;  // the thread does not exist here
  if (!stopping_ && (signal_ != 0 || interval_ms_ > 0)) {
    worker_ = new std::thread(&ReportTrigger::run, this);
  }
}

void ReportTrigger::run() {
  auto next = Clock::now() + std::chrono::milliseconds(interval_ms_);
  while (!stopping_) {
    int waited;
    if (interval_ms_ > 0) {
      timespec at{};
      clock_gettime(CLOCK_REALTIME, &at);
      const auto left = std::max(Clock::duration::zero(), next - Clock::now());
      const long ns =
          at.tv_nsec + std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      at.tv_sec += ns / 1'000'000'000;
      at.tv_nsec = ns % 1'000'000'000;
      waited = sem_timedwait(&wake_, &at);
    } else {
      waited = sem_wait(&wake_);
    }
    if (stopping_) return;
    if (waited == 0 && signalled_.exchange(false)) {
      write_("signal");
    } else if (waited != 0 && errno == ETIMEDOUT) {
      write_("interval");
      next = Clock::now() + std::chrono::milliseconds(interval_ms_);
    }
  }
}

}  // namespace cyclegc::agent
