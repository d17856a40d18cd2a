#include "poolkit/circuit_breaker.hpp"

#include <algorithm>

namespace poolkit {

std::string_view to_string(CircuitState state) noexcept {
  switch (state) {
    case CircuitState::closed:
      return "closed";
    case CircuitState::open:
      return "open";
    case CircuitState::half_open:
      return "half_open";
  }
  return "unknown";
}

CircuitBreaker::CircuitBreaker(CircuitBreakerOptions options, SteadyClock clock)
    : options_(options), clock_(std::move(clock)) {
  options_.half_open_success = std::max(1, options_.half_open_success);
}

std::chrono::steady_clock::time_point CircuitBreaker::now() const {
  return clock_ ? clock_() : std::chrono::steady_clock::now();
}

void CircuitBreaker::open_locked(std::chrono::steady_clock::time_point at) {
  state_ = CircuitState::open;
  opened_at_ = at;
  probes_out_ = 0;
  probe_successes_ = 0;
  ++times_opened_;
}

// Open turns half-open lazily, when someone looks after the recovery time.
void CircuitBreaker::refresh_locked(std::chrono::steady_clock::time_point at) {
  if (state_ == CircuitState::open && at - opened_at_ >= options_.recovery) {
    state_ = CircuitState::half_open;
    probes_out_ = 0;
    probe_successes_ = 0;
  }
}

bool CircuitBreaker::allow() {
  if (options_.failure_threshold <= 0) return true;
  std::lock_guard lock(mutex_);
  refresh_locked(now());
  switch (state_) {
    case CircuitState::closed:
      return true;
    case CircuitState::open:
      return false;
    case CircuitState::half_open:
      if (probes_out_ + probe_successes_ >= options_.half_open_success) return false;
      ++probes_out_;
      return true;
  }
  return false;
}

void CircuitBreaker::record_success() {
  if (options_.failure_threshold <= 0) return;
  std::lock_guard lock(mutex_);
  consecutive_failures_ = 0;
  if (state_ != CircuitState::half_open) return;
  probes_out_ = std::max(0, probes_out_ - 1);
  if (++probe_successes_ >= options_.half_open_success) {
    state_ = CircuitState::closed;
    probe_successes_ = 0;
  }
}

void CircuitBreaker::record_failure() {
  if (options_.failure_threshold <= 0) return;
  std::lock_guard lock(mutex_);
  const auto at = now();
  if (state_ == CircuitState::half_open) {
    open_locked(at);
    return;
  }
  if (state_ == CircuitState::closed && ++consecutive_failures_ >= options_.failure_threshold) {
    consecutive_failures_ = 0;
    open_locked(at);
  }
}

void CircuitBreaker::record_cancelled() {
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::half_open) probes_out_ = std::max(0, probes_out_ - 1);
}

CircuitState CircuitBreaker::state() const {
  std::lock_guard lock(mutex_);
  if (state_ == CircuitState::open && now() - opened_at_ >= options_.recovery) {
    return CircuitState::half_open;
  }
  return state_;
}

std::chrono::milliseconds CircuitBreaker::retry_in() const {
  std::lock_guard lock(mutex_);
  if (state_ != CircuitState::open) return std::chrono::milliseconds(0);
  const auto left = options_.recovery - (now() - opened_at_);
  return std::max(std::chrono::milliseconds(0), std::chrono::ceil<std::chrono::milliseconds>(left));
}

std::uint64_t CircuitBreaker::times_opened() const {
  std::lock_guard lock(mutex_);
  return times_opened_;
}

CircuitBreakers::CircuitBreakers(CircuitBreakerOptions options, SteadyClock clock)
    : options_(options), clock_(std::move(clock)) {}

CircuitBreaker& CircuitBreakers::for_key(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto found = breakers_.find(key);
  if (found == breakers_.end()) {
    found = breakers_.emplace(std::string(key), std::make_unique<CircuitBreaker>(options_, clock_))
                .first;
  }
  return *found->second;
}

std::vector<std::pair<std::string, CircuitState>> CircuitBreakers::states() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, CircuitState>> result;
  result.reserve(breakers_.size());
  for (const auto& [key, breaker] : breakers_) result.emplace_back(key, breaker->state());
  return result;
}

}  // namespace poolkit
