// AsyncClusterClient against a real 6-node cluster (3 masters, 3 replicas): commands on keys of
// every slot from threads and coroutines with each caller's replies checked, exact counters,
// cross-slot refusal, and MOVED / ASK while a slot moves by hand. One cluster for the suite;
// each test uses keys of its own. (Resharding and a master's death: async_cluster_faults_test.)

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <coroutine>
#include <thread>

#include "../../../src/redis/cluster/key_slot.hpp"
#include "../redis_cluster/cluster_test_support.hpp"
#include "async_cluster_support.hpp"
#include "poolkit/error.hpp"
#include "poolkit/health.hpp"
#include "poolkit/pools.hpp"
#include "poolkit/redis_async_cluster.hpp"
#include "poolkit/settings.hpp"

namespace poolkit {
namespace {

using namespace cluster_testing;
using redis::AsyncClusterClient;

class AsyncCluster : public SharedClusterTest {};

TEST_F(AsyncCluster, KeysOfEverySlotFromThreadsAndCoroutinesGetTheirOwnReplies) {
  AsyncClusterClient redis(cluster().seed_url(), test::async_cluster_options());
  // One key per slot ({tag} chosen so that the tags cover all 16384 slots).
  std::vector<std::string> key_of_slot(redis::detail::kClusterSlots);
  std::size_t found = 0;
  for (int i = 0; found < key_of_slot.size() && i < 10'000'000; ++i) {
    const std::string key = fmt::format("{{s{}}}.v", i);
    auto& slot = key_of_slot[redis::detail::key_slot(key)];
    if (slot.empty()) {
      slot = key;
      ++found;
    }
  }
  ASSERT_EQ(found, key_of_slot.size());

  // Threads: futures in flight, then blocking helpers, each checking its own values.
  constexpr int kThreads = 8;
  std::atomic<int> wrong{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<redis::Reply>> sets;
      for (std::size_t s = t; s < key_of_slot.size(); s += kThreads) {
        sets.push_back(redis.send("SET", key_of_slot[s], fmt::format("value-{}", s)));
      }
      for (auto& set : sets) wrong += set.get().as_string() == "OK" ? 0 : 1;
      for (std::size_t s = t; s < key_of_slot.size(); s += kThreads * 7) {
        wrong += redis.get(key_of_slot[s]) == fmt::format("value-{}", s) ? 0 : 1;
      }
    });
  }
  threads.clear();
  EXPECT_EQ(wrong.load(), 0);

  // Coroutines: one per slot reads its key back, resumed on the nodes' I/O threads.
  std::atomic<int> done{0};
  auto reader = [&](std::size_t s) -> test::Detached {
    try {
      const auto value = co_await redis.async_get(key_of_slot[s]);
      if (value != fmt::format("value-{}", s)) ++wrong;
    } catch (const Error&) {
      ++wrong;
    }
    ++done;
  };
  for (std::size_t s = 0; s < key_of_slot.size(); ++s) reader(s);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (done < static_cast<int>(key_of_slot.size()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(done.load(), static_cast<int>(key_of_slot.size()));
  EXPECT_EQ(wrong.load(), 0);

  // Every master got its share, on its own multiplexed connections, batched.
  const auto stats = redis.stats();
  ASSERT_EQ(stats.nodes.size(), 3u);
  std::size_t slots = 0;
  for (const auto& node : stats.nodes) {
    slots += node.slots;
    EXPECT_TRUE(node.has_client) << node.address;
    EXPECT_GT(node.client.batched_commands, 1000u) << node.address;
    EXPECT_LE(node.client.writes, node.client.batched_commands) << node.address;
  }
  EXPECT_EQ(slots, redis::detail::kClusterSlots);
  EXPECT_EQ(stats.moved + stats.ask, 0u) << "a stable cluster redirects nothing";
}

TEST_F(AsyncCluster, CountersFromManyThreadsAreExact) {
  AsyncClusterClient redis(cluster().seed_url(), test::async_cluster_options());
  constexpr int kThreads = 32;
  constexpr int kIncrements = 2000;
  std::vector<std::jthread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = fmt::format("exact:{}", t);
      try {
        // Half blocking, half futures: the order per key is kept either way.
        for (int i = 0; i < kIncrements / 2; ++i) redis.incr(key);
        std::vector<redis::Awaitable<long long>> sent;
        for (int i = 0; i < kIncrements / 2; ++i) sent.push_back(redis.async_incr(key));
        long long last = 0;
        for (auto& one : sent) {
          const long long now = one.get();
          if (now != last + 1 && last != 0) ++errors;  // replies in order, one step apart
          last = now;
        }
      } catch (const Error&) {
        ++errors;
      }
    });
  }
  threads.clear();
  EXPECT_EQ(errors.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(redis.get(fmt::format("exact:{}", t)), std::to_string(kIncrements)) << t;
  }
}

TEST_F(AsyncCluster, KeysOfSeveralSlotsAreRefusedBeforeSending) {
  AsyncClusterClient redis(cluster().seed_url(), test::async_cluster_options());
  ASSERT_NE(redis::detail::key_slot("cross:a"), redis::detail::key_slot("cross:b"));
  try {
    redis.async_mget({"cross:a", "cross:b"});
    FAIL() << "MGET across slots should be refused";
  } catch (const ServerError& error) {
    EXPECT_NE(std::string(error.what()).find("CROSSSLOT"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("hash tag"), std::string::npos) << error.what();
    EXPECT_EQ(std::string(error.what()).find(test_secret()), std::string::npos);
  }
  EXPECT_THROW(redis.send("DEL", "cross:a", "cross:b"), ServerError);
  const auto stats = redis.stats();
  for (const auto& node : stats.nodes) EXPECT_EQ(node.client.batched_commands, 0u);
  // One {hash tag}: one slot, one node.
  EXPECT_TRUE(redis.async_set("{cross}.a", "1").get());
  EXPECT_TRUE(redis.async_set("{cross}.b", "2").get());
  const auto values = redis.async_mget({"{cross}.a", "{cross}.b"}).get();
  ASSERT_EQ(values.size(), 2u);
  EXPECT_EQ(values[0], "1");
  EXPECT_EQ(values[1], "2");
  // Refused commands (connection state, blocking) keep AsyncClient's explanation.
  EXPECT_THROW(redis.send("BLPOP", "cross:a", "1"), ConfigError);
}

TEST_F(AsyncCluster, FollowsAskDuringAMigrationAndMovedAfterIt) {
  AsyncClusterClient redis(cluster().seed_url(), test::async_cluster_options());
  const std::string moved_key = "{migrating}.moved";
  const std::string staying_key = "{migrating}.staying";
  const int slot = redis::detail::key_slot(moved_key);
  ASSERT_TRUE(redis.set(moved_key, "there"));
  ASSERT_TRUE(redis.set(staying_key, "here"));
  const auto masters = masters_of(cluster());
  const auto from = cluster().master_of_slot(slot);
  ASSERT_TRUE(from.has_value());
  const std::size_t to = *from == masters[0] ? masters[1] : masters[0];

  // The slot migrating, one key moved: the source answers ASK for it, and the client sends
  // ASKING and the GET back to back to the target.
  migrate_slot(cluster(), slot, *from, to, {moved_key}, true, false, masters);
  EXPECT_EQ(redis.get(moved_key), "there");
  EXPECT_EQ(redis.get(staying_key), "here");
  auto coroutine_value = std::make_shared<std::promise<std::optional<std::string>>>();
  // No captures: a temporary lambda's captures would be gone when the coroutine resumes.
  auto read = [](AsyncClusterClient& client, std::string key,
                 std::shared_ptr<std::promise<std::optional<std::string>>> out) -> test::Detached {
    out->set_value(co_await client.async_get(key));
  };
  read(redis, moved_key, coroutine_value);
  EXPECT_EQ(coroutine_value->get_future().get(), "there");
  EXPECT_GE(redis.stats().ask, 2u);
  EXPECT_EQ(redis.stats().moved, 0u);

  // Finished: the source answers MOVED, the map follows, later calls go straight there.
  migrate_slot(cluster(), slot, *from, to, {}, false, true, masters);
  EXPECT_EQ(redis.get(staying_key), "here");
  const auto moved_once = redis.stats().moved;
  EXPECT_GE(moved_once, 1u);
  EXPECT_EQ(redis.master_address(static_cast<std::uint16_t>(slot)),
            fmt::format("127.0.0.1:{}", cluster().node(to).port()));
  EXPECT_EQ(redis.incr("{migrating}.n"), 1);
  EXPECT_EQ(redis.stats().moved, moved_once);
}

TEST_F(AsyncCluster, ClosedClientFailsWithPoolClosed) {
  AsyncClusterClient redis(cluster().seed_url(), test::async_cluster_options());
  EXPECT_TRUE(redis.set("closing", "1"));
  redis.close();
  EXPECT_THROW(redis.get("closing"), PoolClosedError);
  redis.close();  // idempotent
}

TEST_F(AsyncCluster, RegistryGivesTheSlotRoutedClientInClusterMode) {
  LoadOptions load;
  load.discover_env_file = false;
  load.environment = Environment{{"REDIS_MODE", "cluster"},
                                 {"REDIS_URL", cluster().seed_url()},
                                 {"REDIS_MULTIPLEX_CONNECTIONS", "3"}};
  const LoadResult loaded = load_settings(load);
  ASSERT_TRUE(loaded.ok());
  Pools pools(*loaded.settings);
  try {
    pools.redis_async();
    FAIL() << "the one-server async client in cluster mode";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("redis_async_cluster()"), std::string::npos)
        << error.what();
  }
  redis::AsyncClusterClient& redis = pools.redis_async_cluster();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(redis.set(fmt::format("registry:{}", i), "1"));
  for (const auto& node : redis.stats().nodes) EXPECT_EQ(node.client.connections, 3u);
  const Health health = pools.health({.only = {"redis"}});
  ASSERT_EQ(health.layers.size(), 1u);
  std::size_t async_nodes = 0;
  for (const auto& [name, value] : health.layers[0].details) {
    if (name.starts_with("async node ")) ++async_nodes;
  }
  EXPECT_EQ(async_nodes, 3u);
  EXPECT_EQ(health.to_json().find(test_secret()), std::string::npos);
  const std::string metrics = pools.metrics().to_prometheus();
  EXPECT_NE(metrics.find("redis_async_cluster_moved"), std::string::npos);
  EXPECT_NE(metrics.find("pool=\"redis async 127.0.0.1:"), std::string::npos)
      << "a series per node";
}

}  // namespace
}  // namespace poolkit
