// Guarded<T>: a value and the mutex that protects it, for traced fields that threads change
// while the collector may be looking — above all containers of Refs, whose buffers move as they
// grow. Application threads reach the value only through lock(); the collector's trace only
// try-locks, and when the lock is busy the owning object simply counts as live for that
// collection, so neither side ever waits for the other.
//
//   struct Room {
//     cyclegc::Guarded<std::vector<cyclegc::Ref<Player>>> players;
//     void trace(cyclegc::Visitor& v) const { v("players", players); }
//   };
//   room->players.lock()->push_back(player);
#pragma once

#include <mutex>
#include <utility>

#include "cyclegc/visitor.h"

namespace cyclegc {

template <class T>
class Guarded {
 public:
  template <class... Args>
  explicit Guarded(Args&&... args) : value_(std::forward<Args>(args)...) {}

  // Exclusive access for as long as the returned handle lives.
  class Locked {
   public:
    T* operator->() const { return value_; }
    T& operator*() const { return *value_; }

   private:
    friend class Guarded;
    Locked(std::mutex& mu, T* value) : lock_(mu), value_(value) {}
    std::unique_lock<std::mutex> lock_;
    T* value_;
  };
  Locked lock() { return Locked(mu_, &value_); }

  // Visits the value if the lock is free right now; otherwise marks the owner untraceable.
  void trace_as(const char* label, Visitor& v) const {
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) {
      v.mark_untraceable();
      return;
    }
    v.enter_guarded();
    v(label, value_);
    v.exit_guarded();
  }

 private:
  mutable std::mutex mu_;
  T value_;
};

}  // namespace cyclegc
