// ClusterClient refuses what cannot be a cluster's seed list before it connects anywhere, with
// the settings' words and never the password.

#include <gtest/gtest.h>

#include <string>

#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/redis_cluster.hpp"
#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using testing::contains;
using testing::test_secret;

std::string refusal(const std::function<void()>& make) {
  try {
    make();
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(accepted)";
}

TEST(ClusterClientConfig, RefusesUnixSocketsOtherSchemesAndMissingUrls) {
  EXPECT_TRUE(
      contains(refusal([] { redis::ClusterClient("unix:///run/redis.sock"); }), "seed nodes"));
  EXPECT_TRUE(contains(refusal([] { redis::ClusterClient("http://127.0.0.1:7000"); }), "redis://"));
  RedisSettings no_url;
  EXPECT_TRUE(contains(refusal([&] { redis::ClusterClient{no_url}; }), "REDIS_URL"));
}

TEST(ClusterClientConfig, RefusesSentinelModeAndNeverShowsThePassword) {
  RedisSettings settings;
  settings.url = parse_url("redis://:" + test_secret() + "@127.0.0.1:26379,127.0.0.1:26380");
  settings.mode = RedisMode::sentinel;
  const std::string message = refusal([&] { redis::ClusterClient{settings}; });
  EXPECT_TRUE(contains(message, "sentinel")) << message;
  EXPECT_FALSE(contains(message, test_secret()));
}

TEST(ClusterClientConfig, CreatingOneConnectsNowhereAndSeveralSeedsAreFine) {
  // Nothing listens on port 1: the client is made anyway, and fails only when used.
  redis::ClusterClient client("redis://127.0.0.1:1,127.0.0.1:2/0");
  EXPECT_TRUE(client.stats().nodes.empty());
  EXPECT_THROW(client.get("k"), ConnectError);
}

TEST(ClusterClientConfig, TheOneServerClientRefusesClusterModeNamingTheClusterClient) {
  RedisSettings settings;
  settings.url = parse_url("redis://127.0.0.1:7000");
  settings.mode = RedisMode::cluster;
  const std::string message = refusal([&] { redis::Client{settings}; });
  EXPECT_TRUE(contains(message, "ClusterClient")) << message;
  settings.mode = RedisMode::standalone;
  settings.url = parse_url("redis://127.0.0.1:7000,127.0.0.1:7001");
  EXPECT_TRUE(contains(refusal([&] { redis::Client{settings}; }), "lists 2 hosts"));
}

}  // namespace
}  // namespace poolkit
