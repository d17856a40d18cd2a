#pragma once
// The type-erased engine behind poolkit::Pool<Connector>. Users never touch it; it lives in
// a header only because the Pool template forwards to it.
//
// Concurrency design (measured in bench/pool_bench.cpp):
//  * Connections live in a fixed array of slots, allocated once. A slot's `state` is the
//    only thing the hot path changes: check-out is a CAS idle→in_use on the slot this
//    thread used last (a thread-local hint), check-in is a store in_use→idle. No lock, no
//    allocation, and the cache line stays with the thread that keeps reusing it.
//  * The moment anybody waits, `waiters_` is non-zero and both paths go through the mutex,
//    where connections are handed to waiters strictly oldest first. A newcomer never
//    overtakes a waiter: fairness only costs something when the pool is exhausted.
//  * Opening, closing and health checks run outside the lock; permission to open (a slot
//    in state `opening`) is granted under it, so the counts can never drift.

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "poolkit/pool_events.hpp"
#include "poolkit/pool_options.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit::detail {

using Clock = std::chrono::steady_clock;

// Holds one user connection; the typed subclass lives in pool.hpp.
class ConnectionBox {
 public:
  virtual ~ConnectionBox() = default;
};

// The connector, with its connection type erased.
class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::unique_ptr<ConnectionBox> open(Clock::time_point deadline) = 0;
  virtual bool check(ConnectionBox& connection, Clock::time_point deadline) = 0;
  virtual void close(ConnectionBox& connection) noexcept = 0;
};

enum class SlotState : std::uint32_t { empty, opening, idle, in_use, reserved };

struct alignas(64) Slot {
  std::atomic<SlotState> state{SlotState::empty};
  // Written only by whoever owns the slot (the lease holder, or the thread that moved it
  // out of `idle`); the state's acquire/release orders them.
  std::uint64_t generation = 0;
  std::int64_t expires_ns = 0;  // 0 = no lifetime limit
  std::int64_t last_used_ns = 0;
  bool broken = false;
  std::unique_ptr<ConnectionBox> box;
  // Also read by the maintenance task while someone else owns the slot.
  std::atomic<std::uint64_t> id{0};
  std::atomic<std::int64_t> checked_out_ns{0};
  std::atomic<std::int64_t> leak_reported_ns{0};  // the check-out already reported as leaked
  std::atomic<std::uint64_t> checkouts{0};
};

class PoolCore;
// Deleter for the owning pointer: closes the pool and frees it once no lease is out.
struct OwnerRelease {
  void operator()(PoolCore* core) const noexcept;
};

class PoolCore {
 public:
  // Validates the options (ConfigError) and starts the maintenance task.
  static std::unique_ptr<PoolCore, OwnerRelease> create(std::unique_ptr<Driver> driver,
                                                        PoolOptions options,
                                                        std::shared_ptr<PoolListener> listener);
  PoolCore(const PoolCore&) = delete;
  PoolCore& operator=(const PoolCore&) = delete;

  Slot* checkout(std::chrono::milliseconds timeout);
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

  struct Waiter;
  struct Wakeups;
  // `look`: not a grant but a nudge (without strict FIFO): a connection was just returned.
  enum class Grant { none, look, connection, open_permission, cleared, closed };

  // Check-out.
  Slot* claim_idle(Slot* preferred) noexcept;
  bool usable(Slot* slot, std::int64_t now_ns);
  Slot* hand_out(Slot* slot, std::int64_t now_ns, Clock::time_point started) noexcept;
  Slot* slow_checkout(Clock::time_point started, Clock::time_point deadline);
  bool join_queue(Waiter& me, bool at_front);
  bool await_grant(Waiter& me, Clock::time_point started, Clock::time_point deadline);
  [[noreturn]] void give_up_locked(Waiter& me, std::unique_lock<std::mutex>& lock,
                                   Clock::time_point started, Clock::time_point deadline);
  bool head_starving_locked() const noexcept;
  void nudge_head_locked(Wakeups& wakeups) noexcept;
  void enqueue_locked(Waiter& waiter, bool at_front) noexcept;
  void remove_waiter_locked(Waiter& waiter) noexcept;
  void dispatch_locked(Wakeups& wakeups);
  void grant_locked(Waiter& waiter, Grant grant, Slot* slot, Wakeups& wakeups) noexcept;
  void fail_waiters_locked(Grant grant, Wakeups& wakeups) noexcept;
  Slot* reserve_for_open_locked() noexcept;

  // Opening.
  std::exception_ptr establish(Slot* slot) noexcept;
  Slot* open_for_caller(Slot* slot, Clock::time_point started);
  void note_connect_error(const char* what) noexcept;

  // Check-in and closing; the bool results mean "the owner is gone and this was the last
  // connection: the caller must delete the core".
  [[nodiscard]] bool make_available(Slot* slot) noexcept;
  [[nodiscard]] bool retire(Slot* slot, CloseReason reason) noexcept;

  // Maintenance.
  void maintenance_loop();
  void wake_maintenance();
  void reap_idle();
  std::optional<CloseReason> perished(const Slot& slot, std::int64_t now_ns) const;
  // Both on the hot path, so defined inline below.
  std::optional<CloseReason> outdated(const Slot& slot, std::int64_t now_ns) const noexcept;
  std::optional<CloseReason> reason_to_close_on_return(const Slot& slot,
                                                       std::int64_t now_ns) const noexcept;
  void report_leaks();
  void fill_to_minimum();

  void emit(PoolEvent event) const noexcept;
  void emit_checkout_failed(CheckOutFailure failure, Clock::time_point started) noexcept;
  void record_wait(Clock::time_point started) noexcept;
  [[noreturn]] void throw_timeout(Clock::time_point started, Clock::time_point deadline);
  std::string timeout_advice(Clock::time_point started);

  std::unique_ptr<Driver> driver_;
  const PoolOptions options_;
  std::shared_ptr<PoolListener> listener_;

  std::unique_ptr<Slot[]> slots_;
  std::atomic<std::size_t> slots_used_{0};  // high-water mark of slot indexes in use
  std::atomic<PoolState> state_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> waiters_{0};
  std::atomic<std::size_t> total_atomic_{0};  // total_, for lock-free reads

  mutable std::mutex mutex_;
  // Guarded by mutex_.
  Waiter* head_ = nullptr;
  Waiter* tail_ = nullptr;
  std::size_t total_ = 0;       // slots not empty
  std::size_t connecting_ = 0;  // slots opening
  std::uint64_t next_connection_id_ = 1;
  std::minstd_rand rng_;
  std::string last_connect_error_;
  Clock::time_point last_connect_failure_{};  // when last_connect_error_ happened
  bool owner_gone_ = false;

  // Maintenance task.
  std::condition_variable maintenance_cv_;
  bool maintenance_now_ = false;
  bool stopping_ = false;
  std::thread maintenance_;

  // Counters of the slow paths; the hot path counts in its slot.
  std::atomic<std::uint64_t> created_{0};
  std::array<std::atomic<std::uint64_t>, kCloseReasonCount> closed_{};
  std::array<std::atomic<std::uint64_t>, kCheckOutFailureCount> failures_{};
  std::atomic<std::uint64_t> retired_checkouts_{0};
  std::atomic<std::uint64_t> health_checks_{0};
  std::atomic<std::uint64_t> health_check_failures_{0};
  std::atomic<std::uint64_t> leaks_{0};
  std::atomic<std::uint64_t> waited_{0};
  std::atomic<std::uint64_t> wait_total_us_{0};
  std::atomic<std::uint64_t> wait_max_us_{0};
  std::array<std::atomic<std::uint64_t>, kWaitBucketBoundsUs.size() + 1> wait_buckets_{};
};

// Stale (older than the last clear) or past its lifetime: never worth keeping.
inline std::optional<CloseReason> PoolCore::outdated(const Slot& slot,
                                                     std::int64_t now_ns) const noexcept {
  if (slot.generation != generation_.load(std::memory_order_acquire)) return CloseReason::stale;
  if (slot.expires_ns != 0 && now_ns >= slot.expires_ns) return CloseReason::expired;
  return std::nullopt;
}

inline std::optional<CloseReason> PoolCore::reason_to_close_on_return(
    const Slot& slot, std::int64_t now_ns) const noexcept {
  if (state_.load(std::memory_order_acquire) == PoolState::closed) return CloseReason::pool_closed;
  if (slot.broken) return CloseReason::error;
  return outdated(slot, now_ns);
}

using PoolCorePtr = std::unique_ptr<PoolCore, OwnerRelease>;

}  // namespace poolkit::detail
