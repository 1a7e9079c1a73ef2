// Waits are safepoints. A thread blocked in a condition-variable wait, a join, a sleep or a poll
// is not in the middle of changing a container, so a collection that must read containers need
// not wait for it to allocate (mutator_registry.cc). libcyclegc defines these C library entry
// points; being loaded before libc, its definitions are the ones the program and libstdc++
// call (std::condition_variable, std::thread::join, std::this_thread::sleep_for, event loops,
// POSIX semaphores). Each marks the thread blocked, calls the C library's own definition (the
// next one in lookup order), and on the way out parks the thread if a stop began meanwhile,
// before the program runs again. For a thread that has never used cyclegc, or one that is not at a
// safepoint (inside a destructor, which a container may be running mid-erase), each is a plain
// call.
//
// Not in a ThreadSanitizer build: TSan's interceptors come first, and from inside them (where
// these would run) TSan does not record synchronization, so the parking below would be
// reported as racing. There, a thread in a wait counts as running: safe, but collections
// through containers succeed less often. The normal and ASan builds exercise these.
//
// What is not covered: waits through raw futex(2) (std::future, std::atomic::wait,
// std::counting_semaphore), blocking reads, and mutexes (cheap calls made all the time). A
// thread waiting there is waited for, and a collection that cannot stop it in time keeps the
// objects it could not read (GenerationStats::unreadable).
#include <dlfcn.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "cyclegc/mutator.h"
#include "mutator_registry.h"
#include "thread_buffers.h"

namespace cyclegc::detail {
void link_blocking_calls() {}
}  // namespace cyclegc::detail

#if !defined(__SANITIZE_THREAD__)
namespace cyclegc::detail {
namespace {

// The definition this one hides (libc's), looked up on first use. Threads that race to look it
// up all store the same pointer.
void* next_definition(std::atomic<void*>& cache, const char* name) {
  if (void* f = cache.load(std::memory_order_acquire)) return f;
  void* f = dlsym(RTLD_NEXT, name);
  if (!f) {
    std::fprintf(stderr, "cyclegc: cannot find the C library's %s: %s\n", name, dlerror());
    std::abort();
  }
  cache.store(f, std::memory_order_release);
  return f;
}

class Blocked {
 public:
  // Entering a wait is passing a safepoint: a thread that failed a stop just before it blocked
  // must not keep later stops from being tried (stop_mutators skips while its count stands).
  // Inlined into each definition below (with call_blocked), whose frame keeps the mark.
  [[gnu::always_inline]] Blocked() noexcept : m_(mutator_at_safepoint()) {
    if (!m_) return;
    m_->safepoints.store(m_->safepoints.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
    mark_stack(*m_);
    lent_ = lend_buffers();
    m_->blocked.store(true, std::memory_order_seq_cst);
  }
  ~Blocked() {
    if (!m_) return;
    if (lent_) reclaim_buffers();
    // seq_cst, paired with stop_mutators(): either the stop saw this thread blocked and this
    // load sees the stop, or the stop sees the thread running and waits for it.
    m_->blocked.store(false, std::memory_order_seq_cst);
    m_->stack_mark.store(0, std::memory_order_relaxed);
    if (g_stop_requested.load(std::memory_order_seq_cst) && !m_->library_wait) reach_safepoint();
  }
  Blocked(const Blocked&) = delete;
  Blocked& operator=(const Blocked&) = delete;

 private:
  MutatorRecord* m_;
  bool lent_ = false;
};

template <class F, class... Args>
[[gnu::always_inline]] inline auto call_blocked(F* real, Args... args) {
  Blocked blocked;
  return real(args...);
}

}  // namespace
}  // namespace cyclegc::detail

using cyclegc::detail::call_blocked;
using cyclegc::detail::next_definition;

#define CYCLEGC_NEXT(name)               \
  static std::atomic<void*> next_##name; \
  auto* const real = reinterpret_cast<decltype(&::name)>(next_definition(next_##name, #name))

extern "C" {

int pthread_cond_wait(pthread_cond_t* cond, pthread_mutex_t* mutex) {
  CYCLEGC_NEXT(pthread_cond_wait);
  return call_blocked(real, cond, mutex);
}
int pthread_cond_timedwait(pthread_cond_t* cond, pthread_mutex_t* mutex, const timespec* at) {
  CYCLEGC_NEXT(pthread_cond_timedwait);
  return call_blocked(real, cond, mutex, at);
}
int pthread_cond_clockwait(pthread_cond_t* cond, pthread_mutex_t* mutex, clockid_t clock,
                           const timespec* at) {
  CYCLEGC_NEXT(pthread_cond_clockwait);
  return call_blocked(real, cond, mutex, clock, at);
}
int pthread_join(pthread_t thread, void** result) {
  CYCLEGC_NEXT(pthread_join);
  return call_blocked(real, thread, result);
}
int nanosleep(const timespec* duration, timespec* remaining) {
  CYCLEGC_NEXT(nanosleep);
  return call_blocked(real, duration, remaining);
}
int clock_nanosleep(clockid_t clock, int flags, const timespec* duration, timespec* remaining) {
  CYCLEGC_NEXT(clock_nanosleep);
  return call_blocked(real, clock, flags, duration, remaining);
}
int usleep(useconds_t microseconds) {
  CYCLEGC_NEXT(usleep);
  return call_blocked(real, microseconds);
}
unsigned int sleep(unsigned int seconds) {
  CYCLEGC_NEXT(sleep);
  return call_blocked(real, seconds);
}
int poll(pollfd* fds, nfds_t count, int timeout) {
  CYCLEGC_NEXT(poll);
  return call_blocked(real, fds, count, timeout);
}
int ppoll(pollfd* fds, nfds_t count, const timespec* timeout, const sigset_t* mask) {
  CYCLEGC_NEXT(ppoll);
  return call_blocked(real, fds, count, timeout, mask);
}
int select(int count, fd_set* read, fd_set* write, fd_set* except, timeval* timeout) {
  CYCLEGC_NEXT(select);
  return call_blocked(real, count, read, write, except, timeout);
}
int epoll_wait(int epfd, epoll_event* events, int max, int timeout) {
  CYCLEGC_NEXT(epoll_wait);
  return call_blocked(real, epfd, events, max, timeout);
}
int epoll_pwait(int epfd, epoll_event* events, int max, int timeout, const sigset_t* mask) {
  CYCLEGC_NEXT(epoll_pwait);
  return call_blocked(real, epfd, events, max, timeout, mask);
}
int accept(int fd, sockaddr* address, socklen_t* length) {
  CYCLEGC_NEXT(accept);
  return call_blocked(real, fd, address, length);
}
int accept4(int fd, sockaddr* address, socklen_t* length, int flags) {
  CYCLEGC_NEXT(accept4);
  return call_blocked(real, fd, address, length, flags);
}
int sigwait(const sigset_t* set, int* signal) {
  CYCLEGC_NEXT(sigwait);
  return call_blocked(real, set, signal);
}
pid_t waitpid(pid_t pid, int* status, int options) {
  CYCLEGC_NEXT(waitpid);
  return call_blocked(real, pid, status, options);
}
int sem_wait(sem_t* semaphore) {
  CYCLEGC_NEXT(sem_wait);
  return call_blocked(real, semaphore);
}
int sem_timedwait(sem_t* semaphore, const timespec* at) {
  CYCLEGC_NEXT(sem_timedwait);
  return call_blocked(real, semaphore, at);
}
int sem_clockwait(sem_t* semaphore, clockid_t clock, const timespec* at) {
  CYCLEGC_NEXT(sem_clockwait);
  return call_blocked(real, semaphore, clock, at);
}

}  // extern "C"
#endif
