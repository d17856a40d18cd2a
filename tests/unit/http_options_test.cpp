#include <gtest/gtest.h>

#include "poolkit/http.hpp"

using namespace std::chrono_literals;

TEST(HttpClientOptions, AsyncSettingsMapOntoLimitsTimeoutsRetriesAndTheBreaker) {
  const auto settings = poolkit::Settings::defaults().http_async;
  const auto options = poolkit::http::ClientOptions::from(settings);
  EXPECT_EQ(options.max_connections, settings.pool_limit);
  EXPECT_EQ(options.max_connections_per_host, settings.limit_per_host);
  EXPECT_EQ(options.timeout, settings.timeout_total);
  EXPECT_EQ(options.dns_ttl, settings.dns_ttl);
  EXPECT_EQ(options.idle_max_age, settings.keepalive_timeout);
  EXPECT_EQ(options.retry.style(), poolkit::RetryPolicy::Style::resilience);
  EXPECT_EQ(options.retry.max_retries(), settings.resilience.max_attempts - 1);
  ASSERT_TRUE(options.circuit_breaker.has_value());
  EXPECT_EQ(options.circuit_breaker->failure_threshold, settings.circuit_breaker.failure_threshold);
  EXPECT_FALSE(options.http2);
  EXPECT_NE(options.timeout_setting.find("AIOHTTP_TIMEOUT_TOTAL"), std::string::npos);
}

TEST(HttpClientOptions, SyncSettingsLimitPerHostOnlyAndRetryLikeUrllib3) {
  const auto settings = poolkit::Settings::defaults().http_sync;
  const auto options = poolkit::http::ClientOptions::from(settings);
  EXPECT_EQ(options.max_connections, 0u);
  EXPECT_EQ(options.max_connections_per_host, settings.pool_maxsize);
  EXPECT_EQ(options.max_idle_connections, settings.pool_connections * settings.pool_maxsize);
  EXPECT_EQ(options.timeout, settings.timeout);
  EXPECT_EQ(options.retry.style(), poolkit::RetryPolicy::Style::urllib3);
  EXPECT_EQ(options.retry.max_retries(), settings.retries);
  EXPECT_FALSE(options.circuit_breaker.has_value());
  EXPECT_NE(options.timeout_setting.find("REQUESTS_TIMEOUT"), std::string::npos);
}
