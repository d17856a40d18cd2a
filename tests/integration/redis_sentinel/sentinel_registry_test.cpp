// REDIS_MODE=sentinel through the registry: pools().redis_sentinel(), `check`'s view of the
// master, replicas and sentinels, and the metrics of the master's pool.

#include <gtest/gtest.h>

#include <string>

#include "local_servers/redis_cluster.hpp"
#include "poolkit/error.hpp"
#include "poolkit/health.hpp"
#include "poolkit/pools.hpp"
#include "poolkit/redis_sentinel.hpp"
#include "poolkit/settings.hpp"
#include "sentinel_test_support.hpp"

namespace poolkit {
namespace {

using sentinel_testing::data_url;
const auto secret = sentinel_testing::test_secret;

TEST(RedisSentinelRegistry, HealthShowsMasterReplicasAndSentinels) {
  local::RedisSentinelSet set({.password = secret()});
  const std::string url = data_url(set);
  LoadOptions load;
  load.discover_env_file = false;
  load.environment = Environment{
      {"REDIS_MODE", "sentinel"}, {"REDIS_URL", url}, {"REDIS_SENTINEL_MASTER", set.master_name()}};
  const LoadResult loaded = load_settings(load);
  ASSERT_TRUE(loaded.ok());
  Pools pools(*loaded.settings);
  ASSERT_TRUE(pools.redis_sentinel().set("registry", "1"));
  EXPECT_THROW(pools.redis(), ConfigError) << "one-server client in sentinel mode";
  EXPECT_THROW(pools.redis_cluster(), ConfigError) << "cluster client in sentinel mode";

  const Health health = pools.health({.only = {"redis"}});
  ASSERT_EQ(health.layers.size(), 1u);
  const LayerHealth& redis = health.layers[0];
  EXPECT_TRUE(redis.ok) << redis.error;
  int masters = 0, replicas = 0, sentinels = 0;
  for (const auto& [name, value] : redis.details) {
    if (name == "master 127.0.0.1:" + std::to_string(set.master().port())) ++masters;
    if (name.starts_with("replica ")) ++replicas;
    if (name.starts_with("sentinel ")) ++sentinels;
  }
  EXPECT_EQ(masters, 1);
  EXPECT_EQ(replicas, 1);
  EXPECT_EQ(sentinels, 3);
  EXPECT_EQ(health.to_json().find(secret()), std::string::npos) << "the password leaked";
  const std::string metrics = pools.metrics().to_prometheus();
  EXPECT_NE(metrics.find("pool=\"redis"), std::string::npos) << metrics.substr(0, 400);
  EXPECT_NE(metrics.find("poolkit_redis_sentinel_failovers_total{cause=\"subscription\""),
            std::string::npos)
      << metrics.substr(0, 400);
}

}  // namespace
}  // namespace poolkit
