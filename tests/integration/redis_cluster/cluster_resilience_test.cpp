// ClusterClient while the cluster changes under load: slots resharded by redis-cli (MOVED and
// ASK both happen) and a master killed (its replica is promoted). Each test makes its own
// cluster, since both change it for good.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "../../../src/redis/cluster/key_slot.hpp"
#include "cluster_test_support.hpp"
#include "failover_under_load.hpp"
#include "poolkit/error.hpp"
#include "reshard_under_load.hpp"

namespace poolkit {
namespace {

using namespace cluster_testing;
using Clock = std::chrono::steady_clock;
using redis::ClusterClient;

TEST(ClusterResilience, ReshardingUnderLoadLosesNoIncrementAndShowsNoError) {
  local::RedisCluster cluster({.password = test_secret()});
  ClusterClient redis(cluster.seed_url(), quick_options(8));
  constexpr int kThreads = 16;
  IncrementTally tally;
  const auto reshard = reshard_under_load(cluster, kThreads, [&](int t, const auto& stop) {
    for (long long i = t; !stop && i < 10'000'000; i += kThreads) {
      const int which = static_cast<int>(i % IncrementTally::kCounters);
      tally.count(which, [&] { redis.incr(IncrementTally::counter(which)); });
    }
  });
  ASSERT_EQ(reshard.status, 0) << reshard.output.substr(0, 2000);
  ASSERT_TRUE(cluster.wait_until_ok(std::chrono::seconds(10)));
  expect_every_increment_counted(redis, tally);
}

TEST(ClusterResilience, AMasterKilledUnderLoadFailsOverWithTypedErrorsOnly) {
  local::RedisCluster cluster({.password = test_secret(), .extra_args = quick_sync_args()});
  ASSERT_TRUE(wait_for_replicas(cluster, std::chrono::seconds(20)));
  auto options = quick_options(8);
  options.node.retry_attempts = 1;
  ClusterClient redis(cluster.seed_url(), options);
  // Keys of the doomed master's slots, and of the others.
  const std::string doomed_key = "foo";  // slot 12182
  const auto victim = cluster.master_of_slot(redis::detail::key_slot(doomed_key));
  ASSERT_TRUE(victim.has_value());
  ASSERT_TRUE(redis.set(doomed_key, "0"));

  FailoverTally tally;
  const int ok_at_recovery =
      kill_under_load(cluster, *victim, tally, 8, [&](int t, const auto& stop) {
        for (int i = 0; !stop && i < 1'000'000; ++i) {
          const bool doomed = t % 2 == 0;  // {foo}.n is in foo's slot
          const std::string key = doomed ? "{foo}.n" : fmt::format("other:{}:{}", t, i % 100);
          tally.record(doomed, [&] { redis.incr(key); });
        }
      });

  ASSERT_TRUE(tally.recovered())
      << "writes never reached the promoted replica; the cluster says:\n"
      << cluster.cli((*victim + 1) % cluster.size(), {"CLUSTER", "NODES"}).output << [&] {
           std::string logs;
           for (std::size_t i = 0; i < cluster.size(); ++i) {
             std::ifstream in(cluster.node(i).scratch_dir() / "redis.log");
             std::stringstream text;
             text << in.rdbuf();
             const std::string all = text.str();
             logs += fmt::format("--- node {} (port {}):\n{}\n", i, cluster.node(i).port(),
                                 all.substr(all.size() > 3000 ? all.size() - 3000 : 0));
           }
           return logs;
         }();
  std::cout << fmt::format(
      "[ measured ] writes to the killed master's slots resumed {} ms after "
      "the kill; {} typed errors meanwhile ({}); slowest call {} ms; {} map "
      "refreshes, {} node failures\n",
      tally.recovery().count(), tally.typed(), tally.codes(), tally.slowest_ms(),
      redis.stats().topology_refreshes, redis.stats().node_failures);
  EXPECT_EQ(tally.untyped(), 0);
  EXPECT_LT(tally.recovery(), std::chrono::seconds(10));
  EXPECT_GT(tally.ok(), ok_at_recovery) << "calls go on succeeding after the failover";
  // A call costs at most its retry budget (socket timeout) plus one connect and one round trip.
  EXPECT_LT(tally.slowest_ms(), 6000);
  EXPECT_EQ(redis.incr("{foo}.n") > 0, true);
  const auto promoted = cluster.master_of_slot(redis::detail::key_slot(doomed_key));
  ASSERT_TRUE(promoted.has_value());
  EXPECT_NE(*promoted, *victim);
  EXPECT_EQ(redis.master_address(redis::detail::key_slot(doomed_key)),
            fmt::format("127.0.0.1:{}", cluster.node(*promoted).port()));
  // The dead node serves no slot any more: it left the map, and its pool with it.
  redis.refresh_topology();
  const std::string dead = fmt::format("127.0.0.1:{}", cluster.node(*victim).port());
  for (const auto& node : redis.stats().nodes) EXPECT_NE(node.address, dead);
}

TEST(ClusterResilience, ReplicaPreferredReadsFallBackToTheMasterWhenTheReplicaDies) {
  local::RedisCluster cluster({.password = test_secret(), .extra_args = quick_sync_args()});
  ASSERT_TRUE(wait_for_replicas(cluster, std::chrono::seconds(20)));
  auto options = quick_options();
  options.read_from = RedisReadFrom::replica_preferred;
  options.node.retry_attempts = 1;
  ClusterClient redis(cluster.seed_url(), options);
  ASSERT_TRUE(redis.set("foo", "bar"));
  const auto read_back_deadline = Clock::now() + std::chrono::seconds(5);
  while (redis.get("foo") != "bar" && Clock::now() < read_back_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(redis.stats().replica_reads, 1u);
  // The replica of foo's master.
  const auto master = cluster.master_of_slot(redis::detail::key_slot("foo"));
  ASSERT_TRUE(master.has_value());
  const std::optional<std::size_t> replica = replica_of(cluster, *master);
  ASSERT_TRUE(replica.has_value());
  cluster.node(*replica).kill();
  long long slowest_ms = 0;
  for (int i = 0; i < 100; ++i) {
    const auto started = Clock::now();
    ASSERT_EQ(redis.get("foo"), "bar") << "read " << i;
    slowest_ms = std::max<long long>(
        slowest_ms,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::cout << fmt::format(
      "[ measured ] replica_preferred reads after their replica died: none "
      "failed, slowest {} ms, {} node failures\n",
      slowest_ms, redis.stats().node_failures);
  EXPECT_GE(redis.stats().node_failures, 1u);
  EXPECT_LT(slowest_ms, 3000);
}

}  // namespace
}  // namespace poolkit
