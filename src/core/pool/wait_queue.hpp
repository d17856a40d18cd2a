#pragma once
// The callers waiting for a connection, oldest first. A WaitQueue is guarded by its core's
// mutex (every member ending in _locked needs it held) except the count of waiters, which the
// hot paths read without the lock to learn that nobody waits.

#include <atomic>
#include <chrono>
#include <cstddef>

#include "poolkit/detail/pool_engine.hpp"
#include "wake_signal.hpp"

namespace poolkit::detail {

struct Slot;

// What a waiter was handed. `look`: not a grant but a nudge (without strict FIFO): a
// connection was just returned and the waiter competes for it.
enum class Grant { none, look, connection, open_permission, cleared, closed };

// One waiting caller; lives on the caller's stack while it waits.
struct Waiter {
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  Waiter* wake_next = nullptr;
  Grant grant = Grant::none;
  Slot* slot = nullptr;
  Clock::time_point queued_at{};
  WakeSignal signal;
};

// Waiters granted something under the lock, woken after it is released.
class Wakeups {
 public:
  Wakeups() = default;
  Wakeups(const Wakeups&) = delete;
  Wakeups& operator=(const Wakeups&) = delete;

  void add(Waiter* waiter) noexcept {
    waiter->wake_next = first_;
    first_ = waiter;
  }
  void post_all() noexcept {
    while (first_ != nullptr) {
      Waiter* waiter = first_;
      first_ = waiter->wake_next;  // read before post: the waiter may return at once
      waiter->signal.post();
    }
  }

 private:
  Waiter* first_ = nullptr;
};

class WaitQueue {
 public:
  // Without the lock: seq_cst, paired with check-in's "store idle, then read the count".
  std::size_t waiting() const noexcept { return count_.load(std::memory_order_seq_cst); }
  std::size_t waiting_relaxed() const noexcept { return count_.load(std::memory_order_relaxed); }

  Waiter* oldest_locked() const noexcept { return head_; }
  void enqueue_locked(Waiter& waiter, bool at_front) noexcept;
  void remove_locked(Waiter& waiter) noexcept;
  // Hands `grant` (and `slot`) to a waiter and takes it out of the queue.
  void grant_locked(Waiter& waiter, Grant grant, Slot* slot, Wakeups& wakeups) noexcept;
  // Every waiter gets `grant` (cleared, closed) and no connection.
  void fail_all_locked(Grant grant, Wakeups& wakeups) noexcept;
  // Without strict FIFO: whether the oldest waiter has waited long enough to be served
  // directly again instead of competing with callers that barge in.
  bool oldest_starving_locked() const noexcept;
  // Without strict FIFO: tells the oldest waiter a connection was returned (Grant::look).
  void nudge_oldest_locked(Wakeups& wakeups) noexcept;

 private:
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  std::atomic<std::size_t> count_{0};
};

}  // namespace poolkit::detail
