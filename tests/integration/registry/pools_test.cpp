// The registry against real servers: lazy creation from many threads, close while in use,
// re-creation, health of every layer (healthy and stopped backends), metrics as Prometheus text
// and JSON, and the /metrics + /healthz endpoint.

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "local_servers/ferretdb.hpp"
#include "local_servers/servers.hpp"
#include "poolkit/poolkit.hpp"

using namespace std::chrono_literals;

namespace {

std::string secret() {
  return std::getenv("POOLKIT_TEST_SECRET");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Local servers for every layer, and settings pointing at them with short timeouts.
class PoolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = poolkit::local::FerretDbServer::unavailable_reason()) GTEST_SKIP() << *reason;
    ferretdb.emplace();
    std::ofstream(nginx.root() / "ping.txt") << "pong";
    settings.redis.url = poolkit::parse_url(redis.url());
    settings.redis.connect_timeout = 1s;
    settings.redis.socket_timeout = 1s;
    settings.redis.retry_attempts = 1;
    settings.redis.max_connections = 8;
    settings.mongo.url = poolkit::parse_url(ferretdb->url());
    settings.mongo.min_pool_size = 0;
    settings.mongo.server_selection_timeout = 1000ms;
    settings.mongo.connect_timeout = 1000ms;
  }

  poolkit::local::RedisServer redis{{.password = secret()}};
  poolkit::local::NginxServer nginx;
  std::optional<poolkit::local::FerretDbServer> ferretdb;
  poolkit::Settings settings = poolkit::Settings::defaults();
  std::vector<std::string> logged;
  poolkit::PoolsOptions quiet{.log = [this](std::string_view line) { logged.emplace_back(line); }};
};

}  // namespace

TEST_F(PoolsTest, ALayerWithoutItsUrlSaysWhichVariableEnablesIt) {
  poolkit::Settings none = poolkit::Settings::defaults();
  poolkit::Pools pools(none, quiet);
  try {
    pools.redis();
    FAIL() << "redis() worked without REDIS_URL";
  } catch (const poolkit::ConfigError& error) {
    EXPECT_TRUE(contains(error.what(), "REDIS_URL is not set")) << error.what();
  }
  EXPECT_THROW(pools.mongo(), poolkit::ConfigError);
  EXPECT_FALSE(pools.configured("redis"));
  EXPECT_TRUE(pools.configured("http"));
  const auto health = pools.health({.only = {"redis", "mongo"}});
  EXPECT_TRUE(health.ok());  // layers that are not configured do not fail health
  EXPECT_FALSE(health.layers[0].configured);
}

TEST_F(PoolsTest, FirstUseFromManyThreadsCreatesEachClientOnce) {
  poolkit::Pools pools(settings, quiet);
  std::vector<std::thread> threads;
  std::atomic<poolkit::redis::Client*> redis_seen[12] = {};
  std::atomic<poolkit::mongo::Client*> mongo_seen[12] = {};
  for (int t = 0; t < 12; ++t)
    threads.emplace_back([&, t] {
      redis_seen[t] = &pools.redis();
      mongo_seen[t] = &pools.mongo();
      pools.redis().set("registry:" + std::to_string(t), "x");
    });
  for (auto& t : threads) t.join();
  for (int t = 1; t < 12; ++t) {
    EXPECT_EQ(redis_seen[t].load(), redis_seen[0].load());
    EXPECT_EQ(mongo_seen[t].load(), mongo_seen[0].load());
  }
  EXPECT_EQ(pools.redis().get("registry:11"), "x");
}

TEST_F(PoolsTest, CloseWhileInUseFailsCleanlyAndTheNextUseRecreates) {
  poolkit::Pools pools(settings, quiet);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, closed{0}, other{0};
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t)
    users.emplace_back([&] {
      for (int i = 0; i < 1'000'000 && !stop; ++i) {
        try {
          pools.redis().incr("registry:counter");
          ++ok;
        } catch (const poolkit::PoolClosedError&) {
          ++closed;
        } catch (const std::exception&) {
          ++other;
        }
      }
    });
  // Each close waits for a success after the previous one, so closes land among real use
  // however slowly the users start (sanitizers, 2 cores).
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  for (int i = 0; i < 20; ++i) {
    const int seen = ok.load();
    while (ok.load() == seen && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    pools.close();
  }
  stop = true;
  for (auto& t : users) t.join();
  pools.close();
  pools.close();  // idempotent
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(other.load(), 0);
  // Re-created on the next use, and every increment that succeeded is there.
  EXPECT_EQ(pools.redis().get("registry:counter"), std::to_string(ok.load()));
}

TEST_F(PoolsTest, HealthOfEveryLayerWithServerDetails) {
  poolkit::Pools pools(settings, quiet);
  const auto health = pools.health({.http_probe_url = nginx.url("/ping.txt")});
  ASSERT_EQ(health.layers.size(), 4u);
  for (const auto& layer : health.layers)
    EXPECT_TRUE(layer.ok) << layer.layer << ": " << layer.error;
  EXPECT_TRUE(health.ok());
  const auto json = nlohmann::json::parse(health.to_json());
  EXPECT_EQ(json["layers"][0]["layer"], "redis");
  EXPECT_TRUE(json["layers"][0]["details"].contains("redis_version"));
  EXPECT_TRUE(json["layers"][1]["details"].contains("server_version"));
  EXPECT_EQ(json["layers"][1]["details"]["connPoolStats"], "unsupported by this server");
  EXPECT_TRUE(contains(json["layers"][2]["details"]["probe"], "HTTP 200"));
  EXPECT_FALSE(contains(health.to_json(), secret()));
}

TEST_F(PoolsTest, AnHttpProbeAnswering4xxFailsBothHttpLayersAndSaysTheStatus) {
  poolkit::Pools pools(settings, quiet);
  const auto health =
      pools.health({.only = {"http", "http_sync"}, .http_probe_url = nginx.url("/missing.txt")});
  ASSERT_EQ(health.layers.size(), 2u);
  for (const auto& layer : health.layers) {
    EXPECT_FALSE(layer.ok) << layer.layer;
    EXPECT_TRUE(contains(layer.error, "answered HTTP 404")) << layer.layer << ": " << layer.error;
  }
  EXPECT_FALSE(health.ok());
}

TEST_F(PoolsTest, AStoppedBackendFailsItsLayerWithATypedReason) {
  poolkit::Pools pools(settings, quiet);
  pools.redis().set("k", "v");
  redis.kill();
  const auto health = pools.health({.only = {"redis"}});
  EXPECT_FALSE(health.ok());
  ASSERT_EQ(health.layers.size(), 1u);
  EXPECT_FALSE(health.layers[0].ok);
  EXPECT_FALSE(health.layers[0].error.empty());
  EXPECT_FALSE(contains(health.to_json(), secret()));
  redis.start();
  EXPECT_TRUE(pools.health({.only = {"redis"}}).ok());
}

TEST_F(PoolsTest, MetricsCoverEveryOpenClientWithoutSecrets) {
  poolkit::Pools pools(settings, quiet);
  EXPECT_EQ(pools.metrics().to_prometheus(), "");  // nothing open: nothing created to measure it
  pools.redis().set("m", "1");
  pools.mongo().run_command_json("admin", R"({"ping": 1})");
  pools.http_sync().get(nginx.url("/ping.txt"));
  pools.http().send(poolkit::http::Request::get(nginx.url("/ping.txt"))).get();
  const std::string text = pools.metrics().to_prometheus();
  EXPECT_TRUE(
      contains(text, R"(poolkit_pool_connections{layer="redis",pool="redis",state="idle"})"))
      << text;
  EXPECT_TRUE(contains(text, R"(layer="mongo")"));
  EXPECT_TRUE(contains(
      text,
      R"(poolkit_operations_total{kind="command",layer="redis",operation="SET",outcome="ok"} 1)"));
  EXPECT_TRUE(contains(text, R"(layer="http_sync")"));
  EXPECT_TRUE(contains(text, R"(poolkit_http_connections_total{connection="new",host=)"));
  EXPECT_FALSE(contains(text, secret()));
  const auto json = nlohmann::json::parse(pools.metrics().to_json());
  EXPECT_GT(json["metrics"].size(), 10u);
}

TEST_F(PoolsTest, MetricsAndHealthAreServedOnTheConfiguredAddress) {
  const int port = poolkit::local::free_loopback_port();
  settings.metrics_addr = "127.0.0.1:" + std::to_string(port);
  poolkit::Pools pools(settings, quiet);
  pools.redis().set("served", "1");
  poolkit::http::SyncClient scraper(poolkit::Settings::defaults().http_sync);
  const auto metrics = scraper.get("http://127.0.0.1:" + std::to_string(port) + "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_TRUE(contains(metrics.body, "poolkit_pool_checkouts_total"));
  EXPECT_FALSE(contains(metrics.body, secret()));
  const auto healthz = scraper.get("http://127.0.0.1:" + std::to_string(port) + "/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_TRUE(nlohmann::json::parse(healthz.body)["ok"].get<bool>());
  redis.kill();
  const auto unhealthy = scraper.get("http://127.0.0.1:" + std::to_string(port) + "/healthz");
  EXPECT_EQ(unhealthy.status, 503);
  EXPECT_EQ(scraper.get("http://127.0.0.1:" + std::to_string(port) + "/other").status, 404);
}

TEST_F(PoolsTest, AMetricsAddressThatCannotBeUsedIsAConfigError) {
  poolkit::local::RedisServer occupied;
  settings.metrics_addr = "127.0.0.1:" + std::to_string(occupied.port());
  EXPECT_THROW(poolkit::Pools(settings, quiet), poolkit::ConfigError);
}

// PoolsOptions::leak_threshold reaches every pool the registry creates: a lease held past it
// is reported once through the registry's log, however long it is held after that; a lease
// returned in time never is.
TEST_F(PoolsTest, ALeaseHeldPastTheLeakThresholdIsLoggedOnce) {
  std::mutex log_mutex;
  std::vector<std::string> lines;
  const auto leak_lines = [&](const std::string& pool) {
    const std::lock_guard lock(log_mutex);
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.starts_with(pool + " pool (") && contains(line, "has been checked out for");
    });
  };
  poolkit::Pools pools(settings, {.log =
                                      [&](std::string_view line) {
                                        const std::lock_guard lock(log_mutex);
                                        lines.emplace_back(line);
                                      },
                                  .leak_threshold = 300ms});
  pools.redis().set("leak", "1");  // returned at once: never reported
  pools.mongo().run_command_json("admin", R"({"ping": 1})");
  pools.redis().with_connection([&](poolkit::redis::Connection& connection) {
    auto mongo_lease = pools.mongo().checkout();
    connection.command("PING");
    // The pools' maintenance runs every second: first report within a few ticks...
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while ((leak_lines("redis") == 0 || leak_lines("mongo") == 0) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    // ... and no second one over the next ticks, while the leases are still held.
    std::this_thread::sleep_for(2500ms);
  });
  EXPECT_EQ(leak_lines("redis"), 1);
  EXPECT_EQ(leak_lines("mongo"), 1);
  EXPECT_EQ(pools.redis().stats().pool.leaks_detected, 1u);
  EXPECT_EQ(pools.mongo().stats().pool.leaks_detected, 1u);
  const std::lock_guard lock(log_mutex);
  for (const auto& line : lines) EXPECT_FALSE(contains(line, secret()));
}
