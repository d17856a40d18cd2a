#pragma once
// Shared by ClusterClient's and AsyncClusterClient's resilience tests: calls from many threads
// while a master is killed and its replica promoted, each call's outcome and time counted, and
// when a write to the killed master's slots first succeeded again.

#include <fmt/format.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "local_servers/redis_cluster.hpp"
#include "poolkit/error.hpp"

namespace poolkit::cluster_testing {

// How the calls made around a master's death ended.
class FailoverTally {
 public:
  using Clock = std::chrono::steady_clock;

  // Runs `call` and counts how it ended. `proves_recovery`: a write to the killed master's
  // slots, whose success, when begun after the kill, shows the promoted replica took it.
  void record(bool proves_recovery, const std::function<void()>& call) {
    const auto started = Clock::now();
    try {
      call();
      ++ok_;
      const Clock::rep kill = killed_at_.load();
      if (proves_recovery && kill != 0 && started.time_since_epoch().count() > kill &&
          first_ok_after_kill_ == 0) {
        first_ok_after_kill_ = Clock::now().time_since_epoch().count() - kill;
      }
    } catch (const Error& error) {
      ++typed_;
      ++by_code_[static_cast<std::size_t>(error.code()) % by_code_.size()];
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    } catch (...) {
      ++untyped_;
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    long long seen = slowest_ms_.load();
    while (took.count() > seen && !slowest_ms_.compare_exchange_weak(seen, took.count())) {
    }
  }

  void mark_killed() { killed_at_ = Clock::now().time_since_epoch().count(); }
  bool recovered() const { return first_ok_after_kill_.load() != 0; }
  // From the kill to the first write to its slots that succeeded.
  std::chrono::milliseconds recovery() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
        Clock::duration(first_ok_after_kill_.load()));
  }
  int ok() const { return ok_.load(); }
  int typed() const { return typed_.load(); }
  int untyped() const { return untyped_.load(); }
  long long slowest_ms() const { return slowest_ms_.load(); }
  // The typed errors by code: "3 connect_error, 1 timeout".
  std::string codes() const {
    std::string text;
    for (std::size_t c = 0; c < by_code_.size(); ++c) {
      if (by_code_[c] == 0) continue;
      text += fmt::format("{}{} {}", text.empty() ? "" : ", ", by_code_[c].load(),
                          to_string(static_cast<ErrorCode>(c)));
    }
    return text;
  }

 private:
  std::atomic<int> ok_{0}, typed_{0}, untyped_{0};
  std::array<std::atomic<int>, 16> by_code_{};  // typed errors by ErrorCode
  std::atomic<long long> slowest_ms_{0};
  std::atomic<Clock::rep> killed_at_{0};
  std::atomic<Clock::rep> first_ok_after_kill_{0};
};

// Runs `load(thread_index, stop)` on `threads` threads; 300 ms into it kills node `victim`,
// waits (up to 20 s) for `tally` to see the recovery, lets the load run 500 ms more and stops it.
// Returns the successful calls counted when the recovery was seen.
template <class Load>
int kill_under_load(local::RedisCluster& cluster, std::size_t victim, FailoverTally& tally,
                    int threads, Load load) {
  using Clock = FailoverTally::Clock;
  std::atomic<bool> stop{false};
  std::vector<std::jthread> running;
  for (int t = 0; t < threads; ++t) running.emplace_back([&, t] { load(t, stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  cluster.node(victim).kill();
  tally.mark_killed();
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!tally.recovered() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int ok_at_recovery = tally.ok();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  running.clear();
  return ok_at_recovery;
}

}  // namespace poolkit::cluster_testing
