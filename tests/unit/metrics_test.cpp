#include "poolkit/metrics.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace std::chrono_literals;

namespace {

poolkit::PoolStats sample_pool() {
  poolkit::PoolStats s;
  s.name = "redis";
  s.address = "redis://user:****@127.0.0.1:6379/0";
  s.state = poolkit::PoolState::ready;
  s.max_size = 10;
  s.in_use = 3;
  s.idle = 2;
  s.created = 7;
  s.closed[static_cast<std::size_t>(poolkit::CloseReason::idle)] = 2;
  s.checkouts = 40;
  s.waited = 2;
  s.wait_time_total_us = 1500;
  s.wait_buckets[1] = 2;  // both waits <= 1 ms
  return s;
}

}  // namespace

TEST(Metrics, PoolStatsBecomePrometheusGaugesCountersAndAWaitHistogram) {
  poolkit::MetricsSnapshot snapshot;
  snapshot.add_pool("redis", sample_pool());
  const std::string text = snapshot.to_prometheus();
  EXPECT_NE(text.find("# TYPE poolkit_pool_connections gauge"), std::string::npos);
  EXPECT_NE(
      text.find("poolkit_pool_connections{layer=\"redis\",pool=\"redis\",state=\"in_use\"} 3"),
      std::string::npos);
  EXPECT_NE(text.find("poolkit_pool_connections_closed_total{layer=\"redis\",pool=\"redis\",reason="
                      "\"idle\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("poolkit_pool_checkout_wait_seconds_bucket{layer=\"redis\",pool=\"redis\",le="
                      "\"0.001\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("poolkit_pool_checkout_wait_seconds_count{layer=\"redis\",pool=\"redis\"} 2"),
            std::string::npos);
  // The address may carry a user name: it is never a label.
  EXPECT_EQ(text.find("127.0.0.1"), std::string::npos);
}

TEST(Metrics, OperationsBecomeCountersAndDurationHistograms) {
  poolkit::OperationStats ops;
  ops.record("GET", "ok", 200us);
  ops.record("GET", "ok", 300us);
  ops.record("INCR", "server_error", 2ms);
  poolkit::MetricsSnapshot snapshot;
  snapshot.add_operations("redis", "command", ops.snapshot());
  const std::string text = snapshot.to_prometheus();
  EXPECT_NE(text.find("poolkit_operations_total{kind=\"command\",layer=\"redis\",operation=\"GET\","
                      "outcome=\"ok\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("poolkit_operation_duration_seconds_bucket{kind=\"command\",layer=\"redis\","
                      "operation=\"GET\","
                      "outcome=\"ok\",le=\"0.0005\"} 2"),
            std::string::npos);
  EXPECT_NE(text.find("le=\"+Inf\"} 1"), std::string::npos);
}

TEST(Metrics, JsonIsTheSameSnapshot) {
  poolkit::MetricsSnapshot snapshot;
  snapshot.add_pool("redis", sample_pool());
  snapshot.add_counter("http_retries", "Retries", {{"host", "127.0.0.1:80"}}, 4);
  const auto json = nlohmann::json::parse(snapshot.to_json());
  bool found_retries = false;
  bool found_histogram = false;
  for (const auto& family : json["metrics"]) {
    if (family["name"] == "poolkit_http_retries_total") {
      found_retries = true;
      EXPECT_EQ(family["type"], "counter");
      EXPECT_EQ(family["samples"][0]["value"], 4);
    }
    if (family["name"] == "poolkit_pool_checkout_wait_seconds") {
      found_histogram = true;
      EXPECT_EQ(family["samples"][0]["count"], 2);
      EXPECT_EQ(family["samples"][0]["buckets"].back()["le"], "+Inf");
    }
  }
  EXPECT_TRUE(found_retries);
  EXPECT_TRUE(found_histogram);
}
