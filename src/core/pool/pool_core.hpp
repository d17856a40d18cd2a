#pragma once
// The type-erased engine behind poolkit::Pool<Connector> (whose view of it is
// include/poolkit/detail/pool_engine.hpp). The core ties its parts together under one mutex:
//   slot_table.hpp     the connections' slots and the lock-free moves out of `idle`
//   wait_queue.hpp     the callers waiting, oldest first
//   pool_counters.hpp  counters, events and the timeout message
//   maintenance.hpp    the background thread (its rounds: maintenance_rounds.cpp)
// and its own code: check-out and check-in (pool_core.cpp), waiting (checkout_wait.cpp),
// opening connections (connection_open.cpp).
//
// Concurrency design (measured in bench/pool_bench.cpp):
//  * Connections live in a fixed array of slots, allocated once. A slot's `state` is the
//    only thing the hot path changes: check-out is a CAS idle→in_use on the slot this
//    thread used last (a thread-local hint), check-in is a store in_use→idle. No lock, no
//    allocation, and the cache line stays with the thread that keeps reusing it.
//  * The moment anybody waits, the wait queue's count is non-zero and both paths go through
//    the mutex, where connections are handed to waiters strictly oldest first. A newcomer
//    never overtakes a waiter: fairness only costs something when the pool is exhausted.
//  * Opening, closing and health checks run outside the lock; permission to open (a slot
//    in state `opening`) is granted under it, so the counts can never drift.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>

#include "maintenance.hpp"
#include "pool_clock.hpp"
#include "pool_counters.hpp"
#include "poolkit/detail/pool_engine.hpp"
#include "slot_table.hpp"
#include "wait_queue.hpp"

namespace poolkit::detail {

class PoolCore {
 public:
  // Validates the options (ConfigError) and starts the maintenance task.
  static PoolCorePtr create(std::unique_ptr<Driver> driver, PoolOptions options,
                            std::shared_ptr<PoolListener> listener);
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  // The hot path: defined inline in pool_core.cpp, only called there (by detail::checkout).
  CheckedOut checkout(std::chrono::milliseconds timeout);
  void checkin(Slot* slot) noexcept;

  void ready();
  void clear(ClearMode mode);
  void close();
  PoolStats stats() const;
  const PoolOptions& options() const noexcept { return options_; }

  // The owner lets go: the pool closes, and the core stays alive until the last
  // outstanding lease comes back, so a lease never dangles.
  static void release_owner(PoolCore* core) noexcept;

 private:
  PoolCore(std::unique_ptr<Driver> driver, PoolOptions options,
           std::shared_ptr<PoolListener> listener);
  ~PoolCore();

  // Check-out (pool_core.cpp).
  bool usable(Slot* slot, std::int64_t now_ns);
  CheckedOut hand_out(Slot* slot, std::int64_t now_ns, Clock::time_point started) noexcept;
  void dispatch_locked(Wakeups& wakeups);
  Slot* reserve_for_open_locked() noexcept;

  // Waiting (checkout_wait.cpp).
  CheckedOut slow_checkout(Clock::time_point started, Clock::time_point deadline);
  bool join_queue(Waiter& me, bool at_front);
  bool await_grant(Waiter& me, Clock::time_point started, Clock::time_point deadline);
  [[noreturn]] void give_up_locked(Waiter& me, std::unique_lock<std::mutex>& lock,
                                   Clock::time_point started, Clock::time_point deadline);
  [[noreturn]] void throw_timeout(Clock::time_point started, Clock::time_point deadline);
  void emit_checkout_failed(CheckOutFailure failure, Clock::time_point started) noexcept;
  void record_wait(Clock::time_point started) noexcept;

  // Opening (connection_open.cpp).
  std::exception_ptr establish(Slot* slot) noexcept;
  CheckedOut open_for_caller(Slot* slot, Clock::time_point started);
  void note_connect_error(const char* what) noexcept;

  // Check-in and closing; the bool results mean "the owner is gone and this was the last
  // connection: the caller must delete the core".
  [[nodiscard]] bool make_available(Slot* slot) noexcept;
  [[nodiscard]] bool retire(Slot* slot, CloseReason reason) noexcept;

  // Maintenance rounds (maintenance_rounds.cpp).
  void maintenance_round();
  void reap_idle();
  void report_leaks();
  void fill_to_minimum();

  // Whether a connection is still worth keeping; on the hot path, so defined inline below.
  std::optional<CloseReason> perished(const Slot& slot, std::int64_t now_ns) const noexcept;
  std::optional<CloseReason> outdated(const Slot& slot, std::int64_t now_ns) const noexcept;
  std::optional<CloseReason> reason_to_close_on_return(const Slot& slot,
                                                       std::int64_t now_ns) const noexcept;

  std::unique_ptr<Driver> driver_;
  const PoolOptions options_;
  PoolEvents events_;

  SlotTable slots_;
  std::atomic<PoolState> state_;
  std::atomic<std::uint64_t> generation_{0};
  WaitQueue queue_;                           // guarded by mutex_, but for its count
  std::atomic<std::size_t> total_atomic_{0};  // total_, for lock-free reads

  mutable std::mutex mutex_;
  // Guarded by mutex_.
  std::size_t total_ = 0;       // slots not empty
  std::size_t connecting_ = 0;  // slots opening
  std::uint64_t next_connection_id_ = 1;
  std::minstd_rand rng_;
  std::string last_connect_error_;
  Clock::time_point last_connect_failure_{};  // when last_connect_error_ happened
  bool owner_gone_ = false;

  Maintenance maintenance_;
  PoolCounters counters_;
};

// Stale (older than the last clear) or past its lifetime: never worth keeping.
inline std::optional<CloseReason> PoolCore::outdated(const Slot& slot,
                                                     std::int64_t now_ns) const noexcept {
  if (slot.generation != generation_.load(std::memory_order_acquire)) return CloseReason::stale;
  if (slot.expires_ns != 0 && now_ns >= slot.expires_ns) return CloseReason::expired;
  return std::nullopt;
}

// Outdated, or idle for longer than max_idle_time while the pool is above its minimum.
inline std::optional<CloseReason> PoolCore::perished(const Slot& slot,
                                                     std::int64_t now_ns) const noexcept {
  if (const auto reason = outdated(slot, now_ns)) return reason;
  if (options_.max_idle_time.count() > 0 &&
      now_ns - slot.last_used_ns > to_ns(options_.max_idle_time) &&
      total_atomic_.load(std::memory_order_relaxed) > options_.min_size) {
    return CloseReason::idle;
  }
  return std::nullopt;
}

inline std::optional<CloseReason> PoolCore::reason_to_close_on_return(
    const Slot& slot, std::int64_t now_ns) const noexcept {
  if (state_.load(std::memory_order_acquire) == PoolState::closed) return CloseReason::pool_closed;
  if (slot.broken) return CloseReason::error;
  return outdated(slot, now_ns);
}

}  // namespace poolkit::detail
