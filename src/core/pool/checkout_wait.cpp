// The slow check-out: no idle connection could be claimed (or a waiter is owed one first), so
// the caller queues, is granted a connection or permission to open one, or gives up.

#include <fmt/format.h>

#include "pool_core.hpp"

namespace poolkit::detail {

CheckedOut PoolCore::slow_checkout(Clock::time_point started, Clock::time_point deadline) {
  Waiter me;
  bool waited = false;
  bool retry = false;
  for (;;) {
    if (!join_queue(me, retry)) waited |= await_grant(me, started, deadline);
    switch (me.grant) {
      case Grant::connection: {
        const std::int64_t now_ns = coarse_now_ns();
        if (usable(me.slot, now_ns)) {
          if (waited) record_wait(started);
          return hand_out(me.slot, now_ns, started);
        }
        retry = true;  // it was stale or dead: back to the front, same deadline
        continue;
      }
      case Grant::open_permission:
        if (waited) record_wait(started);
        return open_for_caller(me.slot, started);
      case Grant::cleared:
        emit_checkout_failed(CheckOutFailure::connection_error, started);
        throw PoolClearedError(
            options_.backend,
            fmt::format("{} pool ({}) was cleared after connection errors and is paused; the "
                        "operation can be retried once the server is reachable",
                        options_.name, options_.address));
      case Grant::closed:
        emit_checkout_failed(CheckOutFailure::pool_closed, started);
        throw PoolClosedError(options_.backend,
                              fmt::format("{} pool ({}) is closed; no connection can be checked "
                                          "out of a closed pool",
                                          options_.name, options_.address));
      case Grant::none:
      case Grant::look:  // resolved inside await_grant
        break;
    }
  }
}

// Queues the caller and serves the queue. True when the caller's fate was settled while
// we held the lock (served at once, or refused because the pool is paused or closed).
bool PoolCore::join_queue(Waiter& me, bool at_front) {
  me.grant = Grant::none;
  me.slot = nullptr;
  me.signal.reset();
  Wakeups wakeups;
  std::unique_lock lock(mutex_);
  const PoolState state = state_.load(std::memory_order_relaxed);
  if (state == PoolState::closed) me.grant = Grant::closed;
  if (state == PoolState::paused) me.grant = Grant::cleared;
  if (me.grant == Grant::none) {
    queue_.enqueue_locked(me, at_front);
    dispatch_locked(wakeups);
  }
  const bool settled = me.grant != Grant::none;
  lock.unlock();
  wakeups.post_all();
  return settled;
}

// Sleeps until the caller is granted something, or throws PoolTimeoutError at the deadline.
// Returns whether it actually had to wait. With strict FIFO a grant is written once, before
// the post, so `me.grant` is read after the signal's acquire; without it a nudge (Grant::look)
// can be followed by a real grant, so the grant is read under the lock.
bool PoolCore::await_grant(Waiter& me, Clock::time_point started, Clock::time_point deadline) {
  bool waited = false;
  for (;;) {
    if (!me.signal.is_posted()) {
      waited = true;
      if (!me.signal.wait_until(deadline)) {
        std::unique_lock lock(mutex_);
        if (me.grant == Grant::none) give_up_locked(me, lock, started, deadline);
        lock.unlock();
        me.signal.wait();  // granted just as the deadline passed: the post is on its way
      }
    }
    if (options_.strict_fifo) return waited;
    std::unique_lock lock(mutex_);
    if (me.grant != Grant::look) return waited;
    // Nudged: a connection was returned. Take it if nobody barged in first.
    if (Slot* idle = slots_.claim_idle(nullptr)) {
      Wakeups wakeups;
      queue_.remove_locked(me);
      me.grant = Grant::connection;
      me.slot = idle;
      dispatch_locked(wakeups);  // the next waiter may be due something too
      lock.unlock();
      wakeups.post_all();
      return waited;
    }
    me.grant = Grant::none;
    me.signal.reset();
    if (Clock::now() >= deadline) give_up_locked(me, lock, started, deadline);
  }
}

void PoolCore::give_up_locked(Waiter& me, std::unique_lock<std::mutex>& lock,
                              Clock::time_point started, Clock::time_point deadline) {
  Wakeups wakeups;
  queue_.remove_locked(me);
  dispatch_locked(wakeups);  // whatever was meant for us goes to the next in line
  lock.unlock();
  wakeups.post_all();
  record_wait(started);
  emit_checkout_failed(CheckOutFailure::timeout, started);
  throw_timeout(started, deadline);
}

void PoolCore::throw_timeout(Clock::time_point started, Clock::time_point deadline) {
  const PoolStats now = stats();
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  const auto limit = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started);
  TimeoutCause cause;
  {
    std::lock_guard lock(mutex_);
    if (!last_connect_error_.empty() && last_connect_failure_ >= started) {
      cause.connect_error = last_connect_error_;  // connectors mask secrets in their messages
    }
    cause.room_left = total_ < options_.max_size;
  }
  throw PoolTimeoutError(options_.backend, timeout_message(options_, now, waited, limit, cause));
}

void PoolCore::emit_checkout_failed(CheckOutFailure failure, Clock::time_point started) noexcept {
  counters_.checkout_failed(failure);
  events_.emit({.type = PoolEventType::check_out_failed,
                .failure = failure,
                .duration = Clock::now() - started});
}

void PoolCore::record_wait(Clock::time_point started) noexcept {
  counters_.waited(Clock::now() - started);
}

}  // namespace poolkit::detail
