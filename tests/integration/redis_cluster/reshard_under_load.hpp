#pragma once
// Shared by ClusterClient's and AsyncClusterClient's resilience tests: INCRs on many counters
// from many threads while redis-cli moves 500 slots from one master to another, and the check
// that every INCR that succeeded, and no other, is in the counters afterwards.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cluster_test_support.hpp"
#include "local_servers/redis_cluster.hpp"
#include "poolkit/error.hpp"

namespace poolkit::cluster_testing {

// Each counter's successful INCRs, and the errors (the first one's message kept).
class IncrementTally {
 public:
  static constexpr int kCounters = 1000;

  static std::string counter(int which) { return fmt::format("counter:{}", which); }

  // Runs `incr` (one INCR of counter `which`, waited for) and counts how it ended.
  void count(int which, const std::function<void()>& incr) {
    try {
      incr();
      ++successes_[which];
    } catch (const Error& error) {
      if (++errors_ == 1) {
        const std::lock_guard lock(first_error_mutex_);
        first_error_ = error.what();
      }
    }
  }

  long long successes(int which) const { return successes_[which].load(); }
  int errors() const { return errors_.load(); }
  std::string first_error() const {
    const std::lock_guard lock(first_error_mutex_);
    return first_error_;
  }

 private:
  std::vector<std::atomic<long long>> successes_ = std::vector<std::atomic<long long>>(kCounters);
  std::atomic<int> errors_{0};
  mutable std::mutex first_error_mutex_;
  std::string first_error_;
};

// Runs `load(thread_index, stop)` on `threads` threads; 300 ms into it redis-cli moves 500 slots
// from the first master to the second, and the load stops 300 ms after the move. Returns what
// redis-cli said (status -1 and why when the cluster has not the 3 masters expected).
template <class Load>
local::ToolRun reshard_under_load(local::RedisCluster& cluster, int threads, Load load) {
  const auto masters = masters_of(cluster);
  if (masters.size() != 3) {
    return {-1, fmt::format("expected 3 masters before the reshard, found {}", masters.size())};
  }
  std::atomic<bool> stop{false};
  std::vector<std::jthread> running;
  for (int t = 0; t < threads; ++t) running.emplace_back([&, t] { load(t, stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto reshard = cluster.cluster_tool(
      {"reshard", fmt::format("127.0.0.1:{}", cluster.node(masters[0]).port()), "--cluster-from",
       node_id(cluster, masters[0]), "--cluster-to", node_id(cluster, masters[1]),
       "--cluster-slots", "500", "--cluster-yes"},
      std::chrono::seconds(120));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  running.clear();
  return reshard;
}

// After the reshard: no call failed, each counter holds exactly its successful INCRs, the load
// ran meanwhile and the client was redirected. Prints what it measured.
template <class Client>
void expect_every_increment_counted(Client& redis, const IncrementTally& tally) {
  EXPECT_EQ(tally.errors(), 0) << "first: " << tally.first_error();
  long long total = 0;
  for (int i = 0; i < IncrementTally::kCounters; ++i) {
    const auto value = redis.get(IncrementTally::counter(i));
    const long long expected = tally.successes(i);
    total += expected;
    if (value.value_or("0") != std::to_string(expected)) {
      ADD_FAILURE() << IncrementTally::counter(i) << " holds " << value.value_or("nothing")
                    << ", expected its " << expected << " successful INCRs";
      return;
    }
  }
  const auto stats = redis.stats();
  std::cout << fmt::format(
      "[ measured ] {} INCRs during a 500-slot reshard; {} MOVED, {} ASK, {} TRYAGAIN, {} map "
      "refreshes\n",
      total, stats.moved, stats.ask, stats.try_again, stats.topology_refreshes);
  EXPECT_GT(total, 10'000) << "the load should have run during the reshard";
  // ASK needs a call to meet a slot between two keys' migrations: counted, not required (the
  // suites' migration tests make one for sure).
  EXPECT_GT(stats.moved + stats.ask, 0u) << "the reshard should have redirected some calls";
}

}  // namespace poolkit::cluster_testing
