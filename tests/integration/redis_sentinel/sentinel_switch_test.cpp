// SentinelClient's +switch-master subscription against a real master, replica and three
// sentinels: a coordinated failover (SENTINEL FAILOVER, nobody killed) is followed from the
// message before any command meets the old master; a lost sentinel is replaced; without the
// subscription the same failover is found only by a failing command.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
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
using poolkit::redis::SentinelStats;

using poolkit::sentinel_testing::data_url;
using poolkit::sentinel_testing::test_secret;

// Quick, and the subscribed sentinel checked twice a second.
poolkit::redis::SentinelOptions switch_options() {
  auto options = poolkit::sentinel_testing::quick_options();
  options.subscriber_ping_interval = 500ms;
  return options;
}

std::string local(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

// Polls the client's stats (no command sent) until `done` holds or `timeout` passes.
template <class Done>
bool stats_until(const SentinelClient& redis, std::chrono::milliseconds timeout, Done done) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (done(redis.stats())) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done(redis.stats());
}

// A master in use, its writes replicated, and the subscription listening.
void start_following(SentinelClient& redis, poolkit::local::RedisSentinelSet& set) {
  ASSERT_TRUE(redis.set("switch:before", "1"));
  ASSERT_EQ(redis.master_address(), local(set.master().port()));
  ASSERT_EQ(redis.command("WAIT", 1, 5000).as_integer(), 1) << "the replica did not sync";
  ASSERT_TRUE(stats_until(redis, 5s, [](const SentinelStats& s) {
    return !s.subscribed_to.empty();
  })) << "the client never subscribed to +switch-master";
}

TEST(RedisSentinelSwitch, ACoordinatedFailoverIsFollowedFromTheSubscriptionBeforeAnyCommand) {
  poolkit::local::RedisSentinelSet set({.password = test_secret()});
  SentinelClient redis(data_url(set), set.master_name(), switch_options());
  start_following(redis, set);
  const std::string promoted = local(set.replica().port());

  const auto started = Clock::now();
  ASSERT_TRUE(set.failover(0)) << "SENTINEL FAILOVER was refused";
  ASSERT_TRUE(stats_until(
      redis, 20s, [](const SentinelStats& s) { return s.failovers_followed.subscription == 1; }))
      << "no +switch-master followed; master still " << redis.stats().master;
  const auto followed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  std::printf("[ sentinel ] SENTINEL FAILOVER to the client on the new master: %lld ms\n",
              static_cast<long long>(followed_ms));

  SentinelStats stats = redis.stats();
  EXPECT_EQ(stats.master, promoted);
  // The next command goes to the new master at once: nothing failed, nothing was retried.
  EXPECT_EQ(redis.incr("switch:after"), 1);
  stats = redis.stats();
  EXPECT_EQ(stats.retries, 0u);
  EXPECT_EQ(stats.failovers, 1u);
  EXPECT_EQ(stats.failovers_followed.error, 0u);
  EXPECT_EQ(stats.failovers_followed.query, 0u);
  poolkit::redis::Client new_master(set.replica().url());
  EXPECT_EQ(new_master.get("switch:after"), "1") << "the INCR did not reach the promoted replica";
  EXPECT_EQ(new_master.get("switch:before"), "1");
}

TEST(RedisSentinelSwitch, ALostSentinelIsReplacedAndTheNextSwitchStillFollowed) {
  poolkit::local::RedisSentinelSet set({.password = test_secret()});
  SentinelClient redis(data_url(set), set.master_name(), switch_options());
  start_following(redis, set);
  const std::string first = redis.stats().subscribed_to;
  std::size_t lost = 0;
  while (lost < set.sentinel_count() && local(set.sentinel(lost).port()) != first) ++lost;
  ASSERT_LT(lost, set.sentinel_count()) << "subscribed to an unknown sentinel " << first;

  set.sentinel(lost).kill();
  ASSERT_TRUE(stats_until(redis, 10s,
                          [&](const SentinelStats& s) {
                            return !s.subscribed_to.empty() && s.subscribed_to != first &&
                                   s.resubscriptions >= 1;
                          }))
      << "no other sentinel subscribed to after " << first << " died";

  const std::size_t other = (lost + 1) % set.sentinel_count();
  ASSERT_TRUE(set.failover(other)) << "SENTINEL FAILOVER was refused";
  ASSERT_TRUE(stats_until(redis, 20s, [](const SentinelStats& s) {
    return s.failovers_followed.subscription == 1;
  })) << "no +switch-master followed after the resubscription";
  EXPECT_EQ(redis.stats().master, local(set.replica().port()));
  EXPECT_EQ(redis.incr("switch:after"), 1);
  EXPECT_EQ(redis.stats().retries, 0u);
}

// The fallback: with no subscription, the client learns of the same failover only when a
// command meets the old master demoted (READONLY) or gone.
TEST(RedisSentinelSwitch, WithoutTheSubscriptionAFailingCommandFindsTheNewMaster) {
  poolkit::local::RedisSentinelSet set({.password = test_secret()});
  auto options = switch_options();
  options.follow_switch_messages = false;
  options.retry_budget = 5s;
  SentinelClient redis(data_url(set), set.master_name(), options);
  ASSERT_TRUE(redis.set("switch:before", "1"));
  ASSERT_EQ(redis.command("WAIT", 1, 5000).as_integer(), 1) << "the replica did not sync";
  EXPECT_TRUE(redis.stats().subscribed_to.empty());

  const auto started = Clock::now();
  ASSERT_TRUE(set.failover(0)) << "SENTINEL FAILOVER was refused";
  // The old master takes writes until the sentinels demote it (their INFO period): write until
  // the client has moved, within a bound.
  const auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline && redis.stats().failovers == 0) {
    redis.set("switch:probe", "x");
    std::this_thread::sleep_for(50ms);
  }
  std::printf(
      "[ sentinel ] SENTINEL FAILOVER to the client on the new master, from errors: "
      "%lld ms\n",
      static_cast<long long>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()));
  const SentinelStats stats = redis.stats();
  EXPECT_EQ(stats.failovers, 1u);
  EXPECT_EQ(stats.failovers_followed.error, 1u);
  EXPECT_EQ(stats.failovers_followed.subscription, 0u);
  EXPECT_EQ(stats.master, local(set.replica().port()));
}

}  // namespace
