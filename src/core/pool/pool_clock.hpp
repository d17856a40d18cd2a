#pragma once
// The engine's clocks: the precise one for waits and events, the coarse one for the hot path.

#include <chrono>
#include <cstdint>
#include <ctime>

#include "poolkit/detail/pool_engine.hpp"

namespace poolkit::detail {

// Idle, lifetime and leak limits are in the seconds range; the coarse clock (a few ms of
// resolution) costs a fraction of the precise one on the hot path.
inline std::int64_t coarse_now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline std::int64_t to_ns(std::chrono::milliseconds ms) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

}  // namespace poolkit::detail
