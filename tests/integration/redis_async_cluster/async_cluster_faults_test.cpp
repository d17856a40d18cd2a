// AsyncClusterClient while the cluster changes under load: 500 slots resharded by redis-cli
// (MOVED and ASK both happen) and a master killed (its replica is promoted). Each test makes its
// own cluster, since both change it for good.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <deque>
#include <thread>

#include "../../../src/redis/cluster/key_slot.hpp"
#include "../redis_cluster/cluster_test_support.hpp"
#include "../redis_cluster/reshard_under_load.hpp"
#include "async_cluster_support.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis_async_cluster.hpp"

namespace poolkit {
namespace {

using namespace cluster_testing;
using Clock = std::chrono::steady_clock;
using redis::AsyncClusterClient;

TEST(AsyncClusterFaults, ReshardingUnderLoadLosesNoIncrementAndShowsNoError) {
  local::RedisCluster cluster({.password = test_secret()});
  auto options = test::async_cluster_options();
  options.retry_budget = std::chrono::seconds(5);
  AsyncClusterClient redis(cluster.seed_url(), options);
  constexpr int kThreads = 8;
  constexpr std::size_t kInFlight = 32;  // per async thread: awaitables kept in flight
  IncrementTally tally;
  const auto reshard = reshard_under_load(cluster, kThreads, [&](int t, const auto& stop) {
    std::deque<std::pair<int, redis::Awaitable<long long>>> sent;
    for (long long i = t; !stop && i < 10'000'000; i += kThreads) {
      const int which = static_cast<int>(i % IncrementTally::kCounters);
      if (t % 2 == 0) {  // blocking callers
        tally.count(which, [&] { redis.incr(IncrementTally::counter(which)); });
        continue;
      }
      sent.emplace_back(which, redis.async_incr(IncrementTally::counter(which)));
      if (sent.size() < kInFlight) continue;
      tally.count(sent.front().first, [&] { sent.front().second.get(); });
      sent.pop_front();
    }
    for (auto& [which, awaitable] : sent) tally.count(which, [&] { awaitable.get(); });
  });
  ASSERT_EQ(reshard.status, 0) << reshard.output.substr(0, 2000);
  ASSERT_TRUE(cluster.wait_until_ok(std::chrono::seconds(10)));
  expect_every_increment_counted(redis, tally);
}

TEST(AsyncClusterFaults, AMasterKilledUnderLoadFailsOverWithTypedErrorsOnly) {
  local::RedisCluster cluster({.password = test_secret(), .extra_args = quick_sync_args()});
  ASSERT_TRUE(wait_for_replicas(cluster, std::chrono::seconds(20)));
  auto options = test::async_cluster_options();
  options.node.retry_attempts = 1;
  AsyncClusterClient redis(cluster.seed_url(), options);
  const std::string doomed_key = "{foo}.n";  // slot 12182
  const auto victim = cluster.master_of_slot(redis::detail::key_slot(doomed_key));
  ASSERT_TRUE(victim.has_value());
  ASSERT_TRUE(redis.set(doomed_key, "0"));

  std::atomic<int> untyped{0}, typed{0}, ok{0};
  std::array<std::atomic<int>, 16> by_code{};
  std::atomic<long long> slowest_ms{0};
  std::atomic<bool> stop{false};
  std::atomic<Clock::rep> first_ok_after_kill{0};
  std::atomic<Clock::rep> killed_at{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; !stop && i < 1'000'000; ++i) {
        const std::string key = t % 2 == 0 ? doomed_key : fmt::format("other:{}:{}", t, i % 100);
        const auto started = Clock::now();
        try {
          // Writes (INCR: not idempotent) and reads (GET: retried on the new owner).
          if (i % 2 == 0) {
            redis.incr(key);
          } else {
            redis.get(key);
          }
          ++ok;
          const auto kill = killed_at.load();
          if (kill != 0 && started.time_since_epoch().count() > kill && key == doomed_key &&
              i % 2 == 0 && first_ok_after_kill == 0) {
            first_ok_after_kill = Clock::now().time_since_epoch().count() - kill;
          }
        } catch (const Error& error) {
          ++typed;
          ++by_code[static_cast<std::size_t>(error.code()) % by_code.size()];
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        } catch (...) {
          ++untyped;
        }
        const auto took =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
        long long seen = slowest_ms.load();
        while (took.count() > seen && !slowest_ms.compare_exchange_weak(seen, took.count())) {
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  cluster.node(*victim).kill();
  killed_at = Clock::now().time_since_epoch().count();
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (first_ok_after_kill == 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const int ok_at_recovery = ok.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  stop = true;
  threads.clear();

  ASSERT_NE(first_ok_after_kill.load(), 0)
      << "writes never reached the promoted replica; the cluster says:\n"
      << cluster.cli((*victim + 1) % cluster.size(), {"CLUSTER", "NODES"}).output;
  const auto recovery = std::chrono::duration_cast<std::chrono::milliseconds>(
      Clock::duration(first_ok_after_kill.load()));
  std::string codes;
  for (std::size_t c = 0; c < by_code.size(); ++c) {
    if (by_code[c] == 0) continue;
    codes += fmt::format("{}{} {}", codes.empty() ? "" : ", ", by_code[c].load(),
                         to_string(static_cast<ErrorCode>(c)));
  }
  const auto stats = redis.stats();
  std::cout << fmt::format(
      "[ measured ] writes to the killed master's slots resumed {} ms after the kill; {} typed "
      "errors meanwhile ({}); slowest call {} ms; {} map refreshes, {} node failures, {} "
      "retried on the new owner\n",
      recovery.count(), typed.load(), codes, slowest_ms.load(), stats.topology_refreshes,
      stats.node_failures, stats.retries);
  EXPECT_EQ(untyped.load(), 0);
  EXPECT_LT(recovery, std::chrono::seconds(10));
  EXPECT_GT(ok.load(), ok_at_recovery) << "calls go on succeeding after the failover";
  EXPECT_LT(slowest_ms.load(), 8000) << "no call hangs";
  const auto promoted = cluster.master_of_slot(redis::detail::key_slot(doomed_key));
  ASSERT_TRUE(promoted.has_value());
  EXPECT_NE(*promoted, *victim);
  EXPECT_GT(redis.incr(doomed_key), 0);
  EXPECT_EQ(redis.master_address(redis::detail::key_slot(doomed_key)),
            fmt::format("127.0.0.1:{}", cluster.node(*promoted).port()));
  // The dead node serves no slot any more: it left the map.
  redis.refresh_topology();
  const std::string dead = fmt::format("127.0.0.1:{}", cluster.node(*victim).port());
  for (const auto& node : redis.stats().nodes) EXPECT_NE(node.address, dead);
}

}  // namespace
}  // namespace poolkit
