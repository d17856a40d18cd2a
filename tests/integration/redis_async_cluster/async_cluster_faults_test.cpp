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
#include "../redis_cluster/failover_under_load.hpp"
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

  FailoverTally tally;
  const int ok_at_recovery =
      kill_under_load(cluster, *victim, tally, 8, [&](int t, const auto& stop) {
        for (int i = 0; !stop && i < 1'000'000; ++i) {
          const bool doomed = t % 2 == 0;
          const std::string key = doomed ? doomed_key : fmt::format("other:{}:{}", t, i % 100);
          // Writes (INCR: not idempotent) and reads (GET: retried on the new owner).
          const bool write = i % 2 == 0;
          tally.record(doomed && write, [&] {
            if (write) {
              redis.incr(key);
            } else {
              redis.get(key);
            }
          });
        }
      });

  ASSERT_TRUE(tally.recovered())
      << "writes never reached the promoted replica; the cluster says:\n"
      << cluster.cli((*victim + 1) % cluster.size(), {"CLUSTER", "NODES"}).output;
  const auto stats = redis.stats();
  std::cout << fmt::format(
      "[ measured ] writes to the killed master's slots resumed {} ms after the kill; {} typed "
      "errors meanwhile ({}); slowest call {} ms; {} map refreshes, {} node failures, {} "
      "retried on the new owner\n",
      tally.recovery().count(), tally.typed(), tally.codes(), tally.slowest_ms(),
      stats.topology_refreshes, stats.node_failures, stats.retries);
  EXPECT_EQ(tally.untyped(), 0);
  EXPECT_LT(tally.recovery(), std::chrono::seconds(10));
  EXPECT_GT(tally.ok(), ok_at_recovery) << "calls go on succeeding after the failover";
  EXPECT_LT(tally.slowest_ms(), 8000) << "no call hangs";
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
