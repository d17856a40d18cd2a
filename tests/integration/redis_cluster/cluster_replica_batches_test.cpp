// REDIS_READ_FROM for batches: a pipeline of reads alone, and each part of an MGET split by
// slot, go to the slots' replicas; a pipeline with a write stays on the masters; with
// replica_preferred, a dead replica's reads fall back to its master. Where each command ran is
// read from every node's INFO commandstats.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <charconv>
#include <thread>

#include "../../../src/redis/cluster/key_slot.hpp"
#include "cluster_test_support.hpp"
#include "poolkit/error.hpp"

namespace poolkit {
namespace {

using namespace cluster_testing;
using redis::ClusterClient;
using Clock = std::chrono::steady_clock;

std::vector<std::string> keys(std::string_view prefix, int count) {
  std::vector<std::string> result;
  for (int i = 0; i < count; ++i) result.push_back(fmt::format("{}:{}", prefix, i));
  return result;
}

// Calls of `command` (lower case) on node `index` since its last CONFIG RESETSTAT.
long long calls(local::RedisCluster& cluster, std::size_t index, std::string_view command) {
  const auto info =
      redis::parse_info(admin(cluster, index)->command("INFO", "commandstats").as_string());
  const auto stat = info.get("commandstats", fmt::format("cmdstat_{}", command));
  if (!stat || !stat->starts_with("calls=")) return 0;
  long long count = 0;
  std::from_chars(stat->data() + 6, stat->data() + stat->size(), count);
  return count;
}

struct Placement {
  long long on_masters = 0;
  long long on_replicas = 0;
};

// The running nodes' calls of `command`, by their role now.
Placement placement(local::RedisCluster& cluster, std::string_view command) {
  Placement where;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    if (!cluster.node(i).running()) continue;
    const bool master =
        admin(cluster, i)->command("ROLE").as_array().front().as_string() == "master";
    (master ? where.on_masters : where.on_replicas) += calls(cluster, i, command);
  }
  return where;
}

void reset_stats(local::RedisCluster& cluster) {
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    if (cluster.node(i).running()) admin(cluster, i)->command("CONFIG", "RESETSTAT");
  }
}

std::vector<redis::Reply> read_all(ClusterClient& redis, const std::vector<std::string>& names) {
  auto pipeline = redis.pipeline();
  for (const auto& key : names) pipeline.add("GET", key);
  return pipeline.execute();
}

// Writes the keys (on the masters) and waits, bounded, until replica reads see every one.
void write_and_replicate(ClusterClient& redis, const std::vector<std::string>& names) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& key : names) pairs.emplace_back(key, key + "!");
  redis.mset(pairs);
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  for (;;) {
    const auto replies = read_all(redis, names);
    bool all = true;
    for (std::size_t i = 0; i < names.size() && all; ++i) {
      all = !replies[i].is_nil() && replies[i].as_string() == names[i] + "!";
    }
    if (all) return;
    ASSERT_LT(Clock::now(), deadline) << "the replicas never caught up";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST(ClusterReplicaBatches, ReadPipelinesAndSplitMgetGoToReplicasAndMixedPipelinesToMasters) {
  local::RedisCluster cluster({.password = test_secret(), .extra_args = quick_sync_args()});
  ASSERT_TRUE(wait_for_replicas(cluster, std::chrono::seconds(20)));
  auto options = quick_options();
  options.read_from = RedisReadFrom::replica;
  ClusterClient redis(cluster.seed_url(), options);
  const auto names = keys("batched", 300);
  write_and_replicate(redis, names);

  reset_stats(cluster);
  const auto reads_before = redis.stats().replica_reads;
  const auto replies = read_all(redis, names);
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(replies[i].as_string(), names[i] + "!");
  Placement gets = placement(cluster, "get");
  EXPECT_EQ(gets.on_replicas, 300) << "a pipeline of reads went to the masters";
  EXPECT_EQ(gets.on_masters, 0);
  EXPECT_EQ(redis.stats().replica_reads - reads_before, 300u);

  const auto values = redis.mget(names);
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(values[i], names[i] + "!") << i;
  const Placement mgets = placement(cluster, "mget");
  EXPECT_GE(mgets.on_replicas, 3) << "the split MGET's parts went to the masters";
  EXPECT_EQ(mgets.on_masters, 0);

  // One write: the whole pipeline on the masters, its reads in order with the write.
  auto mixed = redis.pipeline();
  mixed.add("SET", "batched:0", "changed");
  for (const auto& key : names) mixed.add("GET", key);
  const auto mixed_replies = mixed.execute();
  EXPECT_EQ(mixed_replies.at(1).as_string(), "changed") << "a read did not see the write before it";
  gets = placement(cluster, "get");
  EXPECT_EQ(gets.on_masters, 300) << "a mixed pipeline's reads went to replicas";
  EXPECT_EQ(gets.on_replicas, 300);
  EXPECT_EQ(placement(cluster, "set").on_masters, 1);
}

TEST(ClusterReplicaBatches, ReplicaPreferredPipelinesFallBackToTheMasterOfADeadReplica) {
  local::RedisCluster cluster({.password = test_secret(), .extra_args = quick_sync_args()});
  ASSERT_TRUE(wait_for_replicas(cluster, std::chrono::seconds(20)));
  auto options = quick_options();
  options.read_from = RedisReadFrom::replica_preferred;
  options.node.retry_attempts = 1;
  ClusterClient redis(cluster.seed_url(), options);
  const auto names = keys("preferred", 300);
  write_and_replicate(redis, names);

  // The replica of batched:0's master dies.
  const auto master = cluster.master_of_slot(redis::detail::key_slot(names[0]));
  ASSERT_TRUE(master.has_value());
  const std::optional<std::size_t> replica = replica_of(cluster, *master);
  ASSERT_TRUE(replica.has_value());
  cluster.node(*replica).kill();
  reset_stats(cluster);

  const auto started = Clock::now();
  const auto replies = read_all(redis, names);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  for (std::size_t i = 0; i < names.size(); ++i) EXPECT_EQ(replies[i].as_string(), names[i] + "!");
  EXPECT_GE(redis.stats().node_failures, 1u);
  EXPECT_GT(calls(cluster, *master, "get"), 0)
      << "the dead replica's reads did not reach its master";
  const Placement gets = placement(cluster, "get");
  EXPECT_GT(gets.on_replicas, 0) << "the other shards' reads left their replicas";
  EXPECT_EQ(gets.on_masters + gets.on_replicas, 300);
  EXPECT_LT(took, 3000) << "the fallback took too long";
  std::cout << fmt::format(
      "[ measured ] a 300-GET replica_preferred pipeline with one replica dead: {} ms, {} on "
      "masters\n",
      took, gets.on_masters);
}

}  // namespace
}  // namespace poolkit
