// ClusterClient against a real 6-node cluster (3 masters, 3 replicas): routing by slot, hash
// tags, commands split across slots, cross-slot errors before sending, pipelines, the per-node
// bound, and MOVED / ASK while a slot moves by hand. One cluster for the whole suite (making
// one takes about 2 s); each test uses keys of its own.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "../../../src/redis/cluster/key_slot.hpp"
#include "cluster_test_support.hpp"
#include "poolkit/error.hpp"
#include "poolkit/health.hpp"
#include "poolkit/pools.hpp"
#include "poolkit/settings.hpp"

namespace poolkit {
namespace {

using namespace cluster_testing;
using redis::ClusterClient;

class ClusterCommands : public SharedClusterTest {};

std::vector<std::string> keys(std::string_view prefix, int count) {
  std::vector<std::string> result;
  for (int i = 0; i < count; ++i) result.push_back(fmt::format("{}:{}", prefix, i));
  return result;
}

TEST_F(ClusterCommands, EveryCommandKindOnKeysOverAllSlots) {
  ClusterClient redis(cluster().seed_url(), quick_options());
  const auto names = keys("kinds", 1000);
  std::set<std::uint16_t> slots;
  for (const std::string& key : names) {
    slots.insert(redis::detail::key_slot(key));
    ASSERT_TRUE(redis.set(key, "v-" + key));
    ASSERT_EQ(redis.get(key), "v-" + key);
    ASSERT_EQ(redis.incr(key + ":n"), 1);
    ASSERT_TRUE(redis.expire(key, std::chrono::seconds(300)));
    ASSERT_GT(redis.ttl(key), 0);
    ASSERT_TRUE(redis.hset(key + ":h", "f", "x"));
    ASSERT_EQ(redis.hget(key + ":h", "f"), "x");
    ASSERT_EQ(redis.command("LPUSH", key + ":l", "a").as_integer(), 1);
  }
  EXPECT_GT(slots.size(), 900u) << "the keys should cover most of the slot space";
  // Every master holds some of them: each got its share of the traffic.
  for (const std::size_t master : masters_of(cluster())) {
    EXPECT_GT(admin(cluster(), master)->command("DBSIZE").as_integer(), 500) << master;
  }
  const auto stats = redis.stats();
  std::size_t masters_with_pool = 0;
  for (const auto& node : stats.nodes) {
    if (node.role == "master") {
      EXPECT_GT(node.slots, 5000u) << node.address;
      masters_with_pool += node.has_pool ? 1 : 0;
    }
  }
  EXPECT_EQ(masters_with_pool, 3u);
  EXPECT_EQ(stats.moved, 0u) << "a fresh map needs no redirect";
  EXPECT_GE(stats.topology_refreshes, 1u);
}

TEST_F(ClusterCommands, HashTagsKeepKeysTogetherSoTransactionsWork) {
  ClusterClient redis(cluster().seed_url(), quick_options());
  const std::vector<std::string> watch{"{cart42}.items", "{cart42}.total"};
  redis.set("{cart42}.total", "10");
  const auto result = redis.transaction(
      [](redis::ClusterTransaction& tx) {
        const auto total = tx.command("GET", "{cart42}.total").as_string();
        tx.queue("SET", "{cart42}.items", "3");
        tx.queue("INCRBY", "{cart42}.total", std::stoll(total));
      },
      watch);
  ASSERT_TRUE(result.has_value());
  ASSERT_EQ(result->size(), 2u);
  EXPECT_EQ((*result)[1].as_integer(), 20);
  EXPECT_EQ(redis.get("{cart42}.items"), "3");
  // Multi-key commands that are never split work on one slot too.
  redis.command("SADD", "{cart42}.a", "x", "y");
  redis.command("SADD", "{cart42}.b", "y");
  EXPECT_EQ(redis.command("SINTER", "{cart42}.a", "{cart42}.b").as_array().size(), 1u);
}

TEST_F(ClusterCommands, CrossSlotTransactionsAndScriptsFailBeforeAnythingIsSent) {
  ClusterClient redis(cluster().seed_url(), quick_options());
  // "foo" and "bar" are in slots of different masters.
  EXPECT_THROW(
      {
        try {
          redis.transaction("foo", [](redis::ClusterTransaction& tx) {
            tx.queue("SET", "foo", "1");
            tx.queue("SET", "bar", "1");
          });
        } catch (const ServerError& error) {
          EXPECT_NE(std::string(error.what()).find("CROSSSLOT"), std::string::npos);
          EXPECT_NE(std::string(error.what()).find("hash tag"), std::string::npos);
          throw;
        }
      },
      ServerError);
  EXPECT_FALSE(redis.get("foo").has_value()) << "nothing of the transaction may have run";
  const std::vector<std::string> watch{"foo", "bar"};
  EXPECT_THROW(redis.transaction([](redis::ClusterTransaction&) {}, watch), ServerError);
  EXPECT_THROW(redis.command("EVAL", "redis.call('SET', KEYS[1], 'x') return 1", 2, "foo", "bar"),
               ServerError);
  EXPECT_FALSE(redis.get("foo").has_value()) << "the script must not have run";
  EXPECT_THROW(redis.command("MSETNX", "foo", "1", "bar", "2"), ServerError);
  EXPECT_THROW(redis.command("RENAME", "foo", "bar"), ServerError);
  EXPECT_FALSE(redis.get("bar").has_value());
  // The same script on keys of one slot runs.
  EXPECT_EQ(redis.command("EVAL", "redis.call('SET', KEYS[1], 'x') return 1", 2, "{s}.a", "{s}.b")
                .as_integer(),
            1);
}

TEST_F(ClusterCommands, MgetDelExistsMsetAcrossSlotsKeepTheCallersOrder) {
  ClusterClient redis(cluster().seed_url(), quick_options());
  const auto names = keys("multi", 200);
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& key : names) pairs.emplace_back(key, "value-of-" + key);
  redis.mset(pairs);
  std::vector<std::string> asked = names;
  asked.insert(asked.begin() + 50, "multi:missing");
  const auto values = redis.mget(asked);
  ASSERT_EQ(values.size(), asked.size());
  for (std::size_t i = 0; i < asked.size(); ++i) {
    if (asked[i] == "multi:missing") {
      EXPECT_FALSE(values[i].has_value());
    } else {
      EXPECT_EQ(values[i], "value-of-" + asked[i]) << i;
    }
  }
  EXPECT_EQ(redis.exists(asked), 200);
  EXPECT_EQ(redis.command("TOUCH", "multi:1", "multi:2", "multi:missing").as_integer(), 2);
  EXPECT_EQ(redis.del(asked), 200);
  EXPECT_EQ(redis.exists(names), 0);
  EXPECT_GE(redis.stats().split_commands, 5u);
}

TEST_F(ClusterCommands, PipelinesAreSplitPerNodeAndRepliesComeBackInOrder) {
  ClusterClient redis(cluster().seed_url(), quick_options());
  auto pipeline = redis.pipeline();
  const auto names = keys("pipe", 300);
  for (const auto& key : names) pipeline.add("SET", key, key + "!");
  pipeline.add("INCR", "pipe:0");  // an error reply takes its place, it is not thrown
  for (const auto& key : names) pipeline.add("GET", key);
  const auto replies = pipeline.execute();
  ASSERT_EQ(replies.size(), 601u);
  EXPECT_TRUE(replies[300].is_error());
  for (std::size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(replies[i].as_string(), "OK");
    EXPECT_EQ(replies[301 + i].as_string(), names[i] + "!");
  }
  auto spanning = redis.pipeline();
  spanning.add("MGET", "foo", "bar");
  EXPECT_THROW(spanning.execute(), ServerError) << "a pipeline does not split its commands";
}

TEST_F(ClusterCommands, EachNodesPoolStaysWithinTheBoundUnderLoad) {
  constexpr std::size_t kPerNode = 4;
  ClusterClient redis(cluster().seed_url(), quick_options(kPerNode));
  std::atomic<int> failures{0};
  std::atomic<bool> stop{false};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 400 && !stop; ++i) {
        try {
          redis.incr(fmt::format("bound:{}:{}", t, i % 50));
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  std::size_t most_seen = 0;
  for (int probe = 0; probe < 10; ++probe) {
    for (const std::size_t master : masters_of(cluster())) {
      const std::size_t seen = clients_named(cluster(), master, "poolkit-cluster-test");
      most_seen = std::max(most_seen, seen);
      EXPECT_LE(seen, kPerNode) << "node " << master;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  threads.clear();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(most_seen, 0u) << "the probe should have seen the pools at work";
  EXPECT_LE(redis.stats().topology_refreshes, 2u) << "16 first callers share one map read";
  for (const auto& node : redis.stats().nodes) {
    if (node.has_pool) {
      EXPECT_LE(node.client.pool.max_size, kPerNode) << node.address;
    }
  }
}

TEST_F(ClusterCommands, MovedIsFollowedAfterASlotMovesByHand) {
  ClusterClient redis(cluster().seed_url(), quick_options());
  const std::string key = "moving-key";  // slot 5470... whichever: found below
  const int slot = redis::detail::key_slot(key);
  ASSERT_TRUE(redis.set(key, "before"));
  const auto masters = masters_of(cluster());
  const auto owner = cluster().master_of_slot(slot);
  ASSERT_TRUE(owner.has_value());
  const std::size_t target = masters[0] == *owner ? masters[1] : masters[0];
  migrate_slot(cluster(), slot, *owner, target, {}, true, true, masters);
  ASSERT_TRUE(cluster().wait_until_ok(std::chrono::seconds(10)));
  EXPECT_EQ(redis.get(key), "before") << "the client must follow MOVED to the new owner";
  EXPECT_GE(redis.stats().moved, 1u);
  EXPECT_EQ(redis.master_address(static_cast<std::uint16_t>(slot)),
            fmt::format("127.0.0.1:{}", cluster().node(target).port()));
  ASSERT_TRUE(redis.set(key, "after"));
  EXPECT_EQ(admin(cluster(), target)->command("CLUSTER", "COUNTKEYSINSLOT", slot).as_integer(), 1);
}

TEST_F(ClusterCommands, AskIsFollowedWhileASlotIsMigrating) {
  ClusterClient redis(cluster().seed_url(), quick_options());
  // Two keys in one slot: one migrated, one not yet.
  const std::string moved_key = "{asking}.moved", staying_key = "{asking}.staying";
  const int slot = redis::detail::key_slot(moved_key);
  ASSERT_TRUE(redis.set(moved_key, "m"));
  ASSERT_TRUE(redis.set(staying_key, "s"));
  const auto masters = masters_of(cluster());
  const auto owner = cluster().master_of_slot(slot);
  ASSERT_TRUE(owner.has_value());
  const std::size_t target = masters[0] == *owner ? masters[1] : masters[0];
  migrate_slot(cluster(), slot, *owner, target, {moved_key}, true, false, masters);
  EXPECT_EQ(redis.get(moved_key), "m") << "ASK to the importing node";
  EXPECT_EQ(redis.get(staying_key), "s") << "still on the migrating node";
  EXPECT_GE(redis.stats().ask, 1u);
  // ASK does not change the map: the slot still belongs to the source.
  EXPECT_EQ(redis.master_address(static_cast<std::uint16_t>(slot)),
            fmt::format("127.0.0.1:{}", cluster().node(*owner).port()));
  // A new key of a migrating slot goes to the target too (ASK), and MGET of a slot split
  // between two nodes is TRYAGAIN until the move ends: waited out within the budget.
  ASSERT_TRUE(redis.set("{asking}.new", "n"));
  migrate_slot(cluster(), slot, *owner, target, {}, false, true, masters);
  ASSERT_TRUE(cluster().wait_until_ok(std::chrono::seconds(10)));
  const auto both = redis.mget({moved_key, staying_key, "{asking}.new"});
  EXPECT_EQ(both[0], "m");
  EXPECT_EQ(both[1], "s");
  EXPECT_EQ(both[2], "n");
}

TEST_F(ClusterCommands, ReadsGoToReplicasWhenAskedAndWritesToMasters) {
  ASSERT_TRUE(wait_for_replicas(cluster(), std::chrono::seconds(20)));
  auto options = quick_options();
  options.read_from = RedisReadFrom::replica;
  ClusterClient redis(cluster().seed_url(), options);
  const auto names = keys("replicated", 100);
  for (const auto& key : names) ASSERT_TRUE(redis.set(key, key)) << "writes go to masters";
  for (const auto& key : names) {
    // A replica lags its master a little: wait (bounded) for the write to arrive.
    std::optional<std::string> value;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while ((value = redis.get(key)) != key && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(value, key);
  }
  const auto stats = redis.stats();
  EXPECT_GE(stats.replica_reads, 100u);
  std::size_t replicas_used = 0;
  for (const auto& node : stats.nodes) {
    if (node.role == "replica" && node.has_pool) ++replicas_used;
  }
  EXPECT_EQ(replicas_used, 3u);
  // The replicas themselves counted the GETs.
  const auto masters = masters_of(cluster());
  for (std::size_t i = 0; i < cluster().size(); ++i) {
    if (std::find(masters.begin(), masters.end(), i) != masters.end()) continue;
    const auto info =
        redis::parse_info(admin(cluster(), i)->command("INFO", "commandstats").as_string());
    EXPECT_TRUE(info.get("commandstats", "cmdstat_get").has_value()) << "replica " << i;
  }
}

TEST_F(ClusterCommands, RegistryHealthShowsTheClusterShapeAndState) {
  LoadOptions load;
  load.discover_env_file = false;
  load.environment = Environment{{"REDIS_MODE", "cluster"}, {"REDIS_URL", cluster().seed_url()}};
  const LoadResult loaded = load_settings(load);
  ASSERT_TRUE(loaded.ok());
  Pools pools(*loaded.settings);
  const Health health = pools.health({.only = {"redis"}});
  ASSERT_EQ(health.layers.size(), 1u);
  const LayerHealth& redis = health.layers[0];
  EXPECT_TRUE(redis.ok) << redis.error;
  std::size_t nodes = 0;
  std::string state;
  for (const auto& [name, value] : redis.details) {
    if (name.starts_with("node ")) ++nodes;
    if (name == "cluster_state") state = value;
  }
  EXPECT_EQ(nodes, 6u);
  EXPECT_EQ(state, "ok");
  EXPECT_EQ(health.to_json().find(test_secret()), std::string::npos);
  ASSERT_TRUE(pools.redis_cluster().set("registry", "1"));
  EXPECT_THROW(pools.redis(), ConfigError) << "one-server client in cluster mode";
  const std::string metrics = pools.metrics().to_prometheus();
  EXPECT_NE(metrics.find("redis_cluster_topology_refreshes"), std::string::npos);
  EXPECT_NE(metrics.find("redis_cluster_redirects"), std::string::npos);
  EXPECT_NE(metrics.find("pool=\"redis 127.0.0.1:"), std::string::npos) << "a series per node";
}

TEST_F(ClusterCommands, CheckCommandPrintsTheClusterShape) {
  const std::string cli = std::string(POOLKIT_BINARY_DIR) + "/tools/poolkit/poolkit";
  if (!std::filesystem::exists(cli)) GTEST_SKIP() << "the CLI is not built";
  const auto run = local::run_tool(
      {cli, "check", "--only", "redis"},
      {"REDIS_MODE=cluster", "REDIS_URL=" + cluster().seed_url(), "MONGOC_DISABLE_SHM=1"},
      std::chrono::seconds(30));
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("cluster_state"), std::string::npos) << run.output;
  EXPECT_NE(run.output.find("master"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find(test_secret()), std::string::npos) << "the password leaked";
}

TEST_F(ClusterCommands, CloseClosesEveryNodesPoolAndLaterCallsFail) {
  ClusterClient redis(cluster().seed_url(), quick_options());
  ASSERT_TRUE(redis.set("closing", "1"));
  redis.close();
  EXPECT_THROW(redis.get("closing"), PoolClosedError);
  for (const auto& node : redis.stats().nodes) {
    if (node.has_pool) {
      EXPECT_EQ(node.client.pool.total, 0u) << node.address;
    }
  }
}

TEST_F(ClusterCommands, ASeedListWithADeadNodeStillFindsTheCluster) {
  // The first seed does not answer; the second does.
  const std::string url = cluster().seed_url();
  const std::string at = url.substr(0, url.find('@') + 1);
  ClusterClient redis(at + "127.0.0.1:1," + url.substr(url.find('@') + 1), quick_options());
  ASSERT_TRUE(redis.set("seeded", "1"));
  EXPECT_EQ(redis.get("seeded"), "1");
}

TEST_F(ClusterCommands, NoNodeAnsweringIsAConnectErrorNamingTheSeedsWithoutThePassword) {
  ClusterClient redis("redis://:" + test_secret() + "@127.0.0.1:1,127.0.0.1:2/0", quick_options());
  try {
    redis.get("anything");
    FAIL() << "no cluster there";
  } catch (const ConnectError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("127.0.0.1:1"), std::string::npos) << message;
    EXPECT_EQ(message.find(test_secret()), std::string::npos) << "the password leaked";
  }
}

}  // namespace
}  // namespace poolkit
