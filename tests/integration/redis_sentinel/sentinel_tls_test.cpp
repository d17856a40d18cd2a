// SentinelClient over TLS: a master, its replica and three sentinels with TLS only on every port
// (replication and the sentinels' links too), reached through rediss:// sentinels. The master
// found, a failover followed, and a wrong CA refused with a TlsError naming a sentinel.

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "local_servers/redis_cluster.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis_sentinel.hpp"
#include "sentinel_test_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using poolkit::redis::SentinelClient;

using poolkit::sentinel_testing::data_url;
using poolkit::sentinel_testing::test_secret;

// Quick, with the CA, and timeouts that leave room for TLS handshakes on a loaded machine.
poolkit::redis::SentinelOptions tls_options(const std::filesystem::path& ca) {
  auto options = poolkit::sentinel_testing::quick_options();
  options.node.connect_timeout = 1000ms;
  options.node.tls.ca_file = ca.string();
  options.sentinel_timeout = 1000ms;
  return options;
}

std::string local(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

TEST(RedisSentinelTls, TheMasterIsFoundAndAFailoverFollowedOverTls) {
  poolkit::local::RedisSentinelSet set({.password = test_secret(), .tls = true});
  ASSERT_TRUE(set.sentinels_url().starts_with("rediss://"));
  SentinelClient redis(data_url(set), set.master_name(),
                       tls_options(poolkit::local::TestCa::shared().ca_file()));
  EXPECT_EQ(redis.master_address(), local(set.master().port()));
  ASSERT_TRUE(redis.set("tls:before", "1"));
  ASSERT_EQ(redis.command("WAIT", 1, 5000).as_integer(), 1) << "the replica did not sync";
  auto stats = redis.stats();
  EXPECT_GT(stats.client.tls_full_handshakes + stats.client.tls_resumed_handshakes, 0u);
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline && redis.stats().subscribed_to.empty()) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_FALSE(redis.stats().subscribed_to.empty()) << "no +switch-master subscription over TLS";

  ASSERT_TRUE(set.failover(0)) << "SENTINEL FAILOVER was refused";
  deadline = Clock::now() + 20s;
  while (Clock::now() < deadline && redis.stats().failovers == 0) {
    std::this_thread::sleep_for(20ms);
  }
  stats = redis.stats();
  EXPECT_EQ(stats.master, local(set.replica().port()))
      << "the failover was not followed; sentinels name port "
      << set.master_port_seen_by(0).value_or(0) << ", subscribed to '" << stats.subscribed_to
      << "', " << stats.resubscriptions << " resubscriptions";
  EXPECT_EQ(stats.failovers_followed.subscription, 1u) << "no +switch-master over TLS";
  EXPECT_EQ(redis.incr("tls:after"), 1);
  EXPECT_EQ(redis.get("tls:before"), "1");
}

TEST(RedisSentinelTls, AWrongCaIsATlsErrorNamingASentinel) {
  poolkit::local::RedisSentinelSet set({.password = test_secret(), .tls = true});
  SentinelClient redis(data_url(set), set.master_name(),
                       tls_options(poolkit::local::TestCa::shared().other_ca_file()));
  try {
    redis.get("k");
    FAIL() << "a certificate from another CA was accepted";
  } catch (const poolkit::TlsError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(local(set.sentinel(0).port())), std::string::npos) << message;
    EXPECT_EQ(message.find(test_secret()), std::string::npos) << "the password leaked";
  }
}

}  // namespace
