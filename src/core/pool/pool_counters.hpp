#pragma once
// What a pool tells the outside: the counters behind PoolStats, the events its listener
// receives, and the words of a check-out timeout.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "poolkit/detail/pool_engine.hpp"

namespace poolkit::detail {

// Counters of the slow paths; the hot path counts check-outs in its slot. Lock-free, relaxed:
// a stats() snapshot may be a moment old, never torn within one counter.
class PoolCounters {
 public:
  void connection_created() noexcept { created_.fetch_add(1, std::memory_order_relaxed); }
  void connection_closed(CloseReason reason, std::uint64_t its_checkouts) noexcept {
    retired_checkouts_.fetch_add(its_checkouts, std::memory_order_relaxed);
    closed_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  void checkout_failed(CheckOutFailure failure) noexcept {
    failures_[static_cast<std::size_t>(failure)].fetch_add(1, std::memory_order_relaxed);
  }
  void health_checked(bool healthy) noexcept {
    health_checks_.fetch_add(1, std::memory_order_relaxed);
    if (!healthy) health_check_failures_.fetch_add(1, std::memory_order_relaxed);
  }
  void leak_detected() noexcept { leaks_.fetch_add(1, std::memory_order_relaxed); }
  // A check-out that had to wait, for the wait histogram.
  void waited(Clock::duration wait) noexcept;

  // Everything but the state and the slots' counts, which the core fills in.
  void fill(PoolStats& stats) const noexcept;

 private:
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

// The pool's listener, if any; events carry the pool's name and address.
class PoolEvents {
 public:
  PoolEvents(std::shared_ptr<PoolListener> listener, const PoolOptions& options)
      : listener_(std::move(listener)), options_(options) {}
  // Hot paths build an event only when somebody listens.
  bool listening() const noexcept { return listener_ != nullptr; }
  void emit(PoolEvent event) const noexcept;

 private:
  std::shared_ptr<PoolListener> listener_;
  const PoolOptions& options_;
};

// Why a check-out waited in vain, as the core saw it when it gave up.
struct TimeoutCause {
  std::string connect_error;  // a connect that failed during the wait, if any (secret-free)
  bool room_left = false;     // fewer connections than max_size
};

// The PoolTimeoutError message: how long, the pool's occupation, and which limit to change.
std::string timeout_message(const PoolOptions& options, const PoolStats& now,
                            std::chrono::milliseconds waited, std::chrono::milliseconds limit,
                            const TimeoutCause& cause);
// The last sentence of it: which limit kept the caller waiting, and what to change.
std::string timeout_advice(const PoolOptions& options, const TimeoutCause& cause);

}  // namespace poolkit::detail
