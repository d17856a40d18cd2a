// The multi-node fixtures the cluster tests rely on: a real 6-node Redis Cluster (3 masters, 3
// replicas) made by redis-cli --cluster create on loopback.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "local_servers/redis_cluster.hpp"

using poolkit::local::RedisCluster;

TEST(LocalRedisCluster, SixNodesCoverEverySlotWithOneReplicaPerMaster) {
  const char* secret = std::getenv("POOLKIT_TEST_SECRET");
  ASSERT_NE(secret, nullptr);
  RedisCluster cluster({.password = secret});
  ASSERT_EQ(cluster.size(), 6u);
  const std::string info = cluster.cli(0, {"CLUSTER", "INFO"}).output;
  EXPECT_NE(info.find("cluster_state:ok"), std::string::npos) << info;
  EXPECT_NE(info.find("cluster_size:3"), std::string::npos) << info;
  EXPECT_NE(info.find("cluster_known_nodes:6"), std::string::npos) << info;
  // foo hashes to slot 12182, bar to 5061: two different masters of the three.
  const auto foo_owner = cluster.master_of_slot(12182);
  const auto bar_owner = cluster.master_of_slot(5061);
  ASSERT_TRUE(foo_owner && bar_owner);
  EXPECT_NE(*foo_owner, *bar_owner);
  EXPECT_NE(cluster.cli(*foo_owner, {"SET", "foo", "1"}).output.find("OK"), std::string::npos);
  EXPECT_NE(cluster.cli(*bar_owner, {"SET", "foo", "1"}).output.find("MOVED 12182"),
            std::string::npos);
  EXPECT_EQ(cluster.seed_url().find(secret), 9u) << "the seed URL carries the password";
}

// The sentinels fail the master over to its replica when it dies, as the Sentinel tests need.
TEST(LocalRedisSentinel, SentinelsFailOverToTheReplicaWhenTheMasterDies) {
  const char* secret = std::getenv("POOLKIT_TEST_SECRET");
  ASSERT_NE(secret, nullptr);
  poolkit::local::RedisSentinelSet set({.password = secret});
  ASSERT_EQ(set.master_port_seen_by(0), set.master().port());
  set.master().kill();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::optional<int> seen;
  while (std::chrono::steady_clock::now() < deadline &&
         (seen = set.master_port_seen_by(1)) != set.replica().port()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(seen, set.replica().port()) << "no failover within 30 s";
}
