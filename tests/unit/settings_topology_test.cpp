// SPEC §4, Redis topologies: REDIS_MODE, REDIS_READ_FROM, the Sentinel variables, and REDIS_URL
// listing several hosts only where a topology mode reads them.

#include <gtest/gtest.h>

#include <string>

#include "core/settings_detail.hpp"
#include "poolkit/error.hpp"
#include "poolkit/settings.hpp"
#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using testing::contains;
using testing::expect_no_secret;
using testing::test_secret;

LoadResult load(Environment environment) {
  LoadOptions options;
  options.discover_env_file = false;
  options.environment = std::move(environment);
  return load_settings(options);
}

const SettingProblem* problem_for(const LoadResult& result, std::string_view name) {
  for (const SettingProblem& problem : result.errors) {
    if (problem.name == name) return &problem;
  }
  return nullptr;
}

std::string seeds_with_password() {
  return "redis://app:" + test_secret() + "@127.0.0.1:7000,127.0.0.1:7001,[::1]:7002/0";
}

TEST(RedisTopologySettings, DefaultsAreStandaloneAndMaster) {
  const LoadResult result = load({});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.settings->redis.mode, RedisMode::standalone);
  EXPECT_EQ(result.settings->redis.read_from, RedisReadFrom::master);
  EXPECT_FALSE(result.settings->redis.sentinel_master.has_value());
  EXPECT_FALSE(result.settings->redis.sentinel_password.has_value());
}

TEST(RedisTopologySettings, ClusterModeTakesSeveralSeedNodes) {
  const LoadResult result = load({{"REDIS_MODE", "cluster"},
                                  {"REDIS_READ_FROM", "replica_preferred"},
                                  {"REDIS_URL", seeds_with_password()}});
  ASSERT_TRUE(result.ok());
  const RedisSettings& redis = result.settings->redis;
  EXPECT_EQ(redis.mode, RedisMode::cluster);
  EXPECT_EQ(redis.read_from, RedisReadFrom::replica_preferred);
  ASSERT_TRUE(redis.url.has_value());
  ASSERT_EQ(redis.url->hosts.size(), 3u);
  EXPECT_EQ(redis.url->hosts[2].name, "::1");
  EXPECT_EQ(redis.url->hosts[1].port, 7001);
  EXPECT_EQ(redis.url->password, test_secret());
}

TEST(RedisTopologySettings, SeveralHostsInStandaloneModeIsAnErrorNamingTheMode) {
  const LoadResult result = load({{"REDIS_URL", seeds_with_password()}});
  EXPECT_FALSE(result.ok());
  const SettingProblem* error = problem_for(result, "REDIS_URL");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "lists 3 hosts")) << error->message;
  EXPECT_TRUE(contains(error->message, "REDIS_MODE=cluster")) << error->message;
  expect_no_secret(error->message, "the error");
}

TEST(RedisTopologySettings, UnixSocketInClusterModeIsAnError) {
  const LoadResult result =
      load({{"REDIS_MODE", "cluster"}, {"REDIS_URL", "unix:///run/redis.sock"}});
  const SettingProblem* error = problem_for(result, "REDIS_URL");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "seed nodes")) << error->message;
}

TEST(RedisTopologySettings, SentinelModeNeedsTheMasterName) {
  const LoadResult missing =
      load({{"REDIS_MODE", "sentinel"}, {"REDIS_URL", "redis://127.0.0.1:26379,127.0.0.1:26380"}});
  const SettingProblem* error = problem_for(missing, "REDIS_SENTINEL_MASTER");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "REDIS_MODE=sentinel")) << error->message;

  const LoadResult named = load({{"REDIS_MODE", "sentinel"},
                                 {"REDIS_SENTINEL_MASTER", "mymaster"},
                                 {"REDIS_SENTINEL_PASSWORD", test_secret()},
                                 {"REDIS_URL", "redis://127.0.0.1:26379,127.0.0.1:26380"}});
  ASSERT_TRUE(named.ok());
  EXPECT_EQ(named.settings->redis.sentinel_master, "mymaster");
  EXPECT_EQ(named.settings->redis.sentinel_password, test_secret());
  // The sentinels' password is shown masked, like every secret.
  const SettingEntry* shown = named.find("REDIS_SENTINEL_PASSWORD");
  ASSERT_NE(shown, nullptr);
  expect_no_secret(shown->display.value_or(""), "REDIS_SENTINEL_PASSWORD's display");
}

TEST(RedisTopologySettings, UnknownModeAndReadFromAreRefusedWithTheChoices) {
  const LoadResult result = load({{"REDIS_MODE", "clustered"}, {"REDIS_READ_FROM", "slave"}});
  const SettingProblem* mode = problem_for(result, "REDIS_MODE");
  ASSERT_NE(mode, nullptr);
  EXPECT_TRUE(contains(mode->message, "sentinel")) << mode->message;
  const SettingProblem* read_from = problem_for(result, "REDIS_READ_FROM");
  ASSERT_NE(read_from, nullptr);
  EXPECT_TRUE(contains(read_from->message, "replica_preferred")) << read_from->message;
}

TEST(RedisTopologySettings, MaxConnectionsHelpSaysItIsPerNodeInClusterMode) {
  const SettingSpec* spec = find_setting_spec("REDIS_MAX_CONNECTIONS");
  ASSERT_NE(spec, nullptr);
  EXPECT_TRUE(contains(spec->help, "each node")) << spec->help;
}

TEST(RedisTopologySettings, HostsJudgementForSettingsBuiltInCode) {
  const Url seeds = parse_url("redis://127.0.0.1:7000,127.0.0.1:7001");
  EXPECT_FALSE(detail::redis_hosts_problem(seeds, RedisMode::standalone).empty());
  EXPECT_TRUE(detail::redis_hosts_problem(seeds, RedisMode::cluster).empty());
  EXPECT_TRUE(detail::redis_hosts_problem(seeds, RedisMode::sentinel).empty());
  EXPECT_TRUE(detail::redis_url_problem(seeds).empty());
}

}  // namespace
}  // namespace poolkit
