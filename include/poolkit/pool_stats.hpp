#pragma once
// A pool's state at one moment: a plain struct a caller can log, export or compare.

#include <array>
#include <cstdint>
#include <string>

#include "poolkit/pool_events.hpp"

namespace poolkit {

enum class PoolState { paused, ready, closed };
std::string_view to_string(PoolState state) noexcept;

// Upper bounds (inclusive) of the check-out wait histogram buckets, in microseconds. A last
// bucket counts everything above the final bound.
inline constexpr std::array<std::uint64_t, 10> kWaitBucketBoundsUs = {
    100, 1'000, 5'000, 10'000, 50'000, 100'000, 500'000, 1'000'000, 5'000'000, 30'000'000};

struct PoolStats {
  std::string name;
  std::string address;
  PoolState state = PoolState::paused;
  std::uint64_t generation = 0;
  std::size_t max_size = 0;
  std::size_t min_size = 0;

  std::size_t in_use = 0;
  std::size_t idle = 0;
  std::size_t connecting = 0;
  std::size_t waiting = 0;
  std::size_t total = 0;  // in_use + idle + connecting

  std::uint64_t created = 0;
  std::array<std::uint64_t, kCloseReasonCount> closed{};                 // indexed by CloseReason
  std::uint64_t checkouts = 0;                                           // successful check-outs
  std::array<std::uint64_t, kCheckOutFailureCount> checkout_failures{};  // by CheckOutFailure
  std::uint64_t health_checks = 0;
  std::uint64_t health_check_failures = 0;
  std::uint64_t leaks_detected = 0;

  // Check-outs that had to wait in the queue, and how long they waited. Check-outs served
  // at once are `checkouts - waited`.
  std::uint64_t waited = 0;
  std::uint64_t wait_time_total_us = 0;
  std::uint64_t wait_time_max_us = 0;
  std::array<std::uint64_t, kWaitBucketBoundsUs.size() + 1> wait_buckets{};

  std::uint64_t closed_total() const noexcept {
    std::uint64_t sum = 0;
    for (auto n : closed) sum += n;
    return sum;
  }
  std::uint64_t closed_by(CloseReason reason) const noexcept {
    return closed[static_cast<std::size_t>(reason)];
  }
  std::uint64_t failures_by(CheckOutFailure failure) const noexcept {
    return checkout_failures[static_cast<std::size_t>(failure)];
  }
};

}  // namespace poolkit
