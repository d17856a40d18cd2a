#pragma once
// What the engine knows of one host (scheme://host:port), and the engine's clock: shared by the
// engine and by each exchange, which points at its host.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "poolkit/circuit_breaker.hpp"

namespace poolkit::http::detail {

using Clock = std::chrono::steady_clock;

struct HostState {
  std::string key;  // scheme://host:port
  CircuitBreaker* breaker = nullptr;
  std::atomic<std::uint64_t> requests{0}, retries{0}, stale_retries{0};
  std::atomic<std::uint64_t> connections_new{0}, connections_reused{0};
  std::atomic<std::int64_t> waiting{0};
  // Written by the I/O thread only, so its own reads are exact: admission against the per-host
  // limit reads in_flight, other threads read both for metrics.
  std::atomic<std::int64_t> in_flight{0}, peak_in_flight{0};
};

}  // namespace poolkit::http::detail
