#include "pool_counters.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace poolkit::detail {

void PoolCounters::waited(Clock::duration wait) noexcept {
  const auto waited_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(wait).count());
  waited_.fetch_add(1, std::memory_order_relaxed);
  wait_total_us_.fetch_add(waited_us, std::memory_order_relaxed);
  auto max = wait_max_us_.load(std::memory_order_relaxed);
  while (waited_us > max &&
         !wait_max_us_.compare_exchange_weak(max, waited_us, std::memory_order_relaxed)) {
  }
  const auto bucket =
      std::lower_bound(kWaitBucketBoundsUs.begin(), kWaitBucketBoundsUs.end(), waited_us) -
      kWaitBucketBoundsUs.begin();
  wait_buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
}

void PoolCounters::fill(PoolStats& s) const noexcept {
  s.checkouts += retired_checkouts_.load(std::memory_order_relaxed);
  s.created = created_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    s.closed[i] = closed_[i].load(std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < kCheckOutFailureCount; ++i) {
    s.checkout_failures[i] = failures_[i].load(std::memory_order_relaxed);
  }
  s.health_checks = health_checks_.load(std::memory_order_relaxed);
  s.health_check_failures = health_check_failures_.load(std::memory_order_relaxed);
  s.leaks_detected = leaks_.load(std::memory_order_relaxed);
  s.waited = waited_.load(std::memory_order_relaxed);
  s.wait_time_total_us = wait_total_us_.load(std::memory_order_relaxed);
  s.wait_time_max_us = wait_max_us_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < s.wait_buckets.size(); ++i) {
    s.wait_buckets[i] = wait_buckets_[i].load(std::memory_order_relaxed);
  }
}

void PoolEvents::emit(PoolEvent event) const noexcept {
  if (!listener_) return;
  event.pool_name = options_.name;
  event.address = options_.address;
  listener_->on_event(event);
}

std::string timeout_message(const PoolOptions& options, const PoolStats& now,
                            std::chrono::milliseconds waited, std::chrono::milliseconds limit,
                            const TimeoutCause& cause) {
  return fmt::format(
      "{} pool ({}): timed out after {} ms waiting for a connection (wait limit {} ms); pool "
      "size {} ({}), {} in use, {} idle, {} connecting, {} other callers waiting. {}",
      options.name, options.address, waited.count(), limit.count(), options.max_size,
      options.size_setting, now.in_use, now.idle, now.connecting, now.waiting,
      timeout_advice(options, cause));
}

// A connect that failed while the caller waited means the server is the problem; room left in
// the pool means the caller queued behind the connections being opened (at most
// max_connecting at once), so the server is slow to accept them; otherwise every connection
// was in use or being opened: the pool is exhausted.
std::string timeout_advice(const PoolOptions& options, const TimeoutCause& cause) {
  if (!cause.connect_error.empty()) {
    return fmt::format(
        "New connections are failing: the server is unreachable or refusing them, and a larger "
        "pool would only add failing connects; check that it is up and reachable from here. "
        "Last connection error: {}",
        cause.connect_error);
  }
  if (cause.room_left) {
    return fmt::format(
        "The pool had room to grow but waited behind the connections being opened (at most {} "
        "at once): the server is slow to accept connections. Check its connect latency, or keep "
        "connections warm with {}; raising {} would not help",
        options.max_connecting, options.min_size_setting, options.size_setting);
  }
  return fmt::format(
      "The pool is exhausted (every connection is in use or being opened): raise {} if this "
      "load is expected, or hold connections for less time",
      options.size_setting);
}

}  // namespace poolkit::detail
