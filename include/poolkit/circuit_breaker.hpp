#pragma once
// A circuit breaker per host, shared by every layer: after `failure_threshold` consecutive
// failures the circuit opens and calls fail fast; after `recovery` it half-opens and lets a few
// probes through; `half_open_success` successful probes close it again, one failed probe opens it
// again. Thread-safe. The clock is injectable so tests can step time.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace poolkit {

enum class CircuitState { closed, open, half_open };
std::string_view to_string(CircuitState state) noexcept;

struct CircuitBreakerOptions {
  int failure_threshold = 5;  // consecutive failures that open the circuit; <= 0: never opens
  std::chrono::milliseconds recovery{30000};  // open → half-open after this
  int half_open_success = 1;  // successful probes that close it (also: probes let through at once)

  bool operator==(const CircuitBreakerOptions&) const = default;
};

using SteadyClock = std::function<std::chrono::steady_clock::time_point()>;

class CircuitBreaker {
 public:
  explicit CircuitBreaker(CircuitBreakerOptions options, SteadyClock clock = {});

  // Whether a call may go ahead now. Closed: always. Open: no, until `recovery` has passed,
  // then the circuit half-opens. Half-open: yes while fewer than `half_open_success` probes are
  // out. A caller that got `true` must report the call's end with record_success/failure.
  bool allow();
  void record_success();
  void record_failure();
  // Gives back a permission from allow() without a verdict (the call never reached the host).
  void record_cancelled();

  CircuitState state() const;
  // How long until an open circuit lets a probe through (zero unless open).
  std::chrono::milliseconds retry_in() const;
  std::uint64_t times_opened() const;

 private:
  void open_locked(std::chrono::steady_clock::time_point now);
  void refresh_locked(std::chrono::steady_clock::time_point now);
  std::chrono::steady_clock::time_point now() const;

  CircuitBreakerOptions options_;
  SteadyClock clock_;
  mutable std::mutex mutex_;
  CircuitState state_ = CircuitState::closed;
  int consecutive_failures_ = 0;
  int probes_out_ = 0;
  int probe_successes_ = 0;
  std::uint64_t times_opened_ = 0;
  std::chrono::steady_clock::time_point opened_at_{};
};

// One breaker per key (host:port), created on first use with the same options.
class CircuitBreakers {
 public:
  explicit CircuitBreakers(CircuitBreakerOptions options, SteadyClock clock = {});
  CircuitBreaker& for_key(std::string_view key);
  // Key and state of every breaker, sorted by key.
  std::vector<std::pair<std::string, CircuitState>> states() const;

 private:
  CircuitBreakerOptions options_;
  SteadyClock clock_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<CircuitBreaker>, std::less<>> breakers_;
};

}  // namespace poolkit
