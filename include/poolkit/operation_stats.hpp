#pragma once
// Counts and durations of operations by name and outcome: Redis commands, Mongo commands (from
// APM), HTTP requests per host. Every layer records into one of these; the registry exports the
// snapshots as JSON and Prometheus text. Recording is thread-safe and allocation-free once a
// (name, outcome) pair has been seen.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace poolkit {

// Upper bounds, in seconds, of the duration buckets (Prometheus "le"); the last bucket is +Inf.
inline constexpr std::array<double, 14> kDurationBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

struct OperationSnapshot {
  std::string name;     // "GET", "find", "api.example.com:443"
  std::string outcome;  // "ok", "server_error", "timeout", "2xx", ...
  std::uint64_t count = 0;
  double duration_sum_s = 0.0;
  // Cumulative counts per bucket of kDurationBuckets, then +Inf (== count).
  std::array<std::uint64_t, kDurationBuckets.size() + 1> cumulative{};
};

class OperationStats {
 public:
  void record(std::string_view name, std::string_view outcome, std::chrono::nanoseconds duration);
  // A consistent-enough copy (each counter read once), sorted by name then outcome.
  std::vector<OperationSnapshot> snapshot() const;
  std::uint64_t total(std::string_view outcome = {}) const;

 private:
  struct Cell {
    std::atomic<std::uint64_t> count{0};
    std::atomic<std::uint64_t> duration_sum_ns{0};
    std::array<std::atomic<std::uint64_t>, kDurationBuckets.size() + 1> buckets{};
  };
  Cell& cell(std::string_view name, std::string_view outcome);

  mutable std::shared_mutex mutex_;
  // Orders (name, outcome) keys, owned or viewed alike, so a lookup needs no allocation.
  struct KeyLess {
    using is_transparent = void;
    template <class A, class B>
    bool operator()(const A& a, const B& b) const noexcept {
      const std::string_view a_name = a.first, b_name = b.first;
      return a_name != b_name ? a_name < b_name
                              : std::string_view(a.second) < std::string_view(b.second);
    }
  };
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Cell>, KeyLess> cells_;
};

}  // namespace poolkit
