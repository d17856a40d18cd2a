// Each client's Options: their defaults are the settings table's, Options::from() copies every
// field the settings hold, and a URL given to a constructor is checked as the URL variable is.

#include <gtest/gtest.h>

#include <string>

#include "poolkit/error.hpp"
#include "poolkit/http.hpp"
#include "poolkit/mongo.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/settings.hpp"
#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using namespace std::chrono_literals;
using testing::contains;
using testing::test_secret;

TEST(RedisOptions, DefaultsAreTheSettingsTableDefaults) {
  const redis::Options defaults;
  const redis::Options from_table = redis::Options::from(Settings::defaults().redis);
  EXPECT_EQ(defaults.max_connections, from_table.max_connections);
  EXPECT_EQ(defaults.connect_timeout, from_table.connect_timeout);
  EXPECT_EQ(defaults.socket_timeout, from_table.socket_timeout);
  EXPECT_EQ(defaults.health_check_interval, from_table.health_check_interval);
  EXPECT_EQ(defaults.wait_timeout, from_table.wait_timeout);
  EXPECT_EQ(defaults.retry_attempts, from_table.retry_attempts);
  EXPECT_EQ(defaults.client_name, from_table.client_name);
  EXPECT_EQ(defaults.max_reply_bytes, from_table.max_reply_bytes);
}

TEST(RedisOptions, FromSettingsTakesEverySettingAndKeepsTheRest) {
  RedisSettings settings = Settings::defaults().redis;
  settings.max_connections = 7;
  settings.connect_timeout = 111ms;
  settings.socket_timeout = 222ms;
  settings.health_check_interval = 333ms;
  settings.wait_timeout = 444ms;
  settings.retry_attempts = 5;
  settings.client_name = "worker";
  settings.max_reply_bytes = 4096;
  redis::Options rest;
  rest.min_connections = 3;
  rest.strict_fifo = true;
  const redis::Options options = redis::Options::from(settings, rest);
  EXPECT_EQ(options.max_connections, 7u);
  EXPECT_EQ(options.connect_timeout, 111ms);
  EXPECT_EQ(options.socket_timeout, 222ms);
  EXPECT_EQ(options.health_check_interval, 333ms);
  EXPECT_EQ(options.wait_timeout, 444ms);
  EXPECT_EQ(options.retry_attempts, 5);
  EXPECT_EQ(options.client_name, "worker");
  EXPECT_EQ(options.max_reply_bytes, 4096u);
  EXPECT_EQ(options.min_connections, 3u);
  EXPECT_TRUE(options.strict_fifo);
}

TEST(MongoOptions, DefaultsAreTheSettingsTableDefaults) {
  const mongo::Options defaults;
  const mongo::Options from_table = mongo::Options::from(Settings::defaults().mongo);
  EXPECT_EQ(defaults.max_pool_size, from_table.max_pool_size);
  EXPECT_EQ(defaults.min_pool_size, from_table.min_pool_size);
  EXPECT_EQ(defaults.wait_queue_timeout, from_table.wait_queue_timeout);
  EXPECT_EQ(defaults.max_idle_time, from_table.max_idle_time);
  EXPECT_EQ(defaults.server_selection_timeout, from_table.server_selection_timeout);
  EXPECT_EQ(defaults.socket_timeout, from_table.socket_timeout);
  EXPECT_EQ(defaults.connect_timeout, from_table.connect_timeout);
  EXPECT_EQ(defaults.heartbeat_frequency, from_table.heartbeat_frequency);
  EXPECT_EQ(defaults.appname, from_table.appname);
  EXPECT_EQ(defaults.compressors, from_table.compressors);
}

TEST(MongoOptions, FromSettingsTakesEverySettingAndKeepsTheRest) {
  MongoSettings settings = Settings::defaults().mongo;
  settings.max_pool_size = 9;
  settings.min_pool_size = 2;
  settings.wait_queue_timeout = 11ms;
  settings.max_idle_time = 12ms;
  settings.server_selection_timeout = 13ms;
  settings.socket_timeout = 14ms;
  settings.connect_timeout = 15ms;
  settings.heartbeat_frequency = 16ms;
  settings.appname = "codebot";
  settings.compressors = {"zlib"};
  mongo::Options rest;
  rest.name = "reports";
  const mongo::Options options = mongo::Options::from(settings, rest);
  EXPECT_EQ(options.max_pool_size, 9u);
  EXPECT_EQ(options.min_pool_size, 2u);
  EXPECT_EQ(options.wait_queue_timeout, 11ms);
  EXPECT_EQ(options.max_idle_time, 12ms);
  EXPECT_EQ(options.server_selection_timeout, 13ms);
  EXPECT_EQ(options.socket_timeout, 14ms);
  EXPECT_EQ(options.connect_timeout, 15ms);
  EXPECT_EQ(options.heartbeat_frequency, 16ms);
  EXPECT_EQ(options.appname, "codebot");
  EXPECT_EQ(options.compressors, std::vector<std::string>{"zlib"});
  EXPECT_EQ(options.name, "reports");
}

// The fields the async settings decide; the names used in messages are not settings.
void expect_same_settings_fields(const http::Options& a, const http::Options& b) {
  EXPECT_EQ(a.max_connections, b.max_connections);
  EXPECT_EQ(a.max_connections_per_host, b.max_connections_per_host);
  EXPECT_EQ(a.max_idle_connections, b.max_idle_connections);
  EXPECT_EQ(a.timeout, b.timeout);
  EXPECT_EQ(a.dns_ttl, b.dns_ttl);
  EXPECT_EQ(a.idle_max_age, b.idle_max_age);
  EXPECT_TRUE(a.retry == b.retry);
  EXPECT_EQ(a.circuit_breaker, b.circuit_breaker);
  EXPECT_EQ(a.max_response_bytes, b.max_response_bytes);
}

TEST(HttpOptions, DefaultsAreTheAsyncSettingsDefaults) {
  expect_same_settings_fields(http::Options{},
                              http::Options::from(Settings::defaults().http_async));
}

TEST(HttpOptions, SyncDefaultsAreTheSyncSettingsDefaults) {
  const http::Options sync = http::Options::sync_defaults();
  const http::Options from_table = http::Options::from(Settings::defaults().http_sync);
  expect_same_settings_fields(sync, from_table);
  EXPECT_EQ(sync.timeout_setting, from_table.timeout_setting);
  EXPECT_EQ(sync.limit_setting, from_table.limit_setting);
  EXPECT_FALSE(sync.circuit_breaker.has_value());
  EXPECT_EQ(sync.retry.style(), RetryPolicy::Style::urllib3);
}

// What load_settings says about `variable`=`value` (the first error), without where it was set.
std::string loader_message(const std::string& variable, const std::string& value) {
  LoadOptions options;
  options.discover_env_file = false;
  options.environment = Environment{{variable, value}};
  const LoadResult result = load_settings(options);
  for (const SettingProblem& problem : result.errors) {
    if (problem.name == variable) return problem.message;
  }
  return "(no error for " + variable + ")";
}

// The two messages differ only in where the value came from: "(set in the environment)" for
// the loader, "(given to the client's constructor)" for a constructor.
bool same_but_where(std::string constructor, std::string loaded) {
  const std::string given = " (given to the client's constructor)";
  const std::string environment = " (set in the environment)";
  if (!constructor.ends_with(given) || !loaded.ends_with(environment)) return false;
  constructor.resize(constructor.size() - given.size());
  loaded.resize(loaded.size() - environment.size());
  return constructor == loaded;
}

template <class Construct>
std::string constructor_message(Construct construct) {
  try {
    construct();
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "(no ConfigError)";
}

TEST(ClientUrls, ARedisUrlIsRefusedWithTheMessageRedisUrlEarns) {
  for (const std::string& url :
       {std::string("http://cache:6379/0"), "redis://app:" + test_secret() + "@cache:6379/db7",
        std::string(""), std::string("redis://")}) {
    const std::string message =
        constructor_message([&] { redis::Client client(url, {.min_connections = 0}); });
    const std::string loaded = loader_message("REDIS_URL", url);
    EXPECT_TRUE(same_but_where(message, loaded)) << testing::scrubbed(message) << "\nvs\n"
                                                 << testing::scrubbed(loaded);
    EXPECT_TRUE(contains(message, "REDIS_URL")) << testing::scrubbed(message);
    testing::expect_no_secret(message, "the constructor's error");
  }
}

TEST(ClientUrls, AMongoUrlIsRefusedWithTheMessageMongoUrlEarns) {
  for (const std::string& url :
       {std::string("redis://db/app"), std::string("mongodb://db/app?waitQueueMultiple=2"),
        "mongodb://app:" + test_secret() + "@db:27017/app?waitqueuemultiple=5",
        std::string("mongodb://")}) {
    const std::string message = constructor_message([&] { mongo::Client client(url); });
    const std::string loaded = loader_message("MONGODB_URL", url);
    EXPECT_TRUE(same_but_where(message, loaded)) << testing::scrubbed(message) << "\nvs\n"
                                                 << testing::scrubbed(loaded);
    testing::expect_no_secret(message, "the constructor's error");
  }
}

TEST(ClientUrls, ARedisClientFromAUrlNeedsNoSettingsAndOpensNothingUntilUsed) {
  redis::Client client("redis://127.0.0.1:6379/3", {.max_connections = 4});
  EXPECT_EQ(client.stats().pool.max_size, 4u);
  EXPECT_EQ(client.stats().pool.total, 0u);
  EXPECT_NE(client.address().find("127.0.0.1:6379"), std::string::npos);
}

TEST(ClientUrls, ARedissClientOpensNothingUntilUsed) {
  redis::Client client("rediss://:secret@cache:6380/0", {.max_connections = 4});
  EXPECT_EQ(client.stats().pool.total, 0u);
  EXPECT_EQ(client.address(), "rediss://:****@cache:6380/0");
}

TEST(ClientUrls, ARedissUrlNamingAMissingFileIsRefusedNamingTheOptionAndThePath) {
  const std::string message = constructor_message(
      [] { redis::Client client("rediss://cache:6380/0?ssl_certfile=/nonexistent/client.pem"); });
  EXPECT_TRUE(contains(message, "ssl_certfile")) << message;
  EXPECT_TRUE(contains(message, "/nonexistent/client.pem")) << message;
}

TEST(ClientUrls, ATlsFileInOptionsThatDoesNotExistIsAConfigErrorNamingTheSettingAndPath) {
  const std::string message = constructor_message([] {
    redis::Options options;
    options.tls.ca_file = "/nonexistent/ca.pem";
    redis::Client client("rediss://cache:6380/0", options);
  });
  EXPECT_TRUE(contains(message, "REDIS_SSL_CA_CERTS (/nonexistent/ca.pem)")) << message;
}

}  // namespace
}  // namespace poolkit
