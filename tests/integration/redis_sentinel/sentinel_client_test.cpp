// SentinelClient against a real master, replica and three sentinels (quorum 2, down-after
// 1000 ms) on loopback, with the run's password on the data nodes.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "local_servers/process.hpp"
#include "local_servers/redis_cluster.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis_sentinel.hpp"
#include "sentinel_test_support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using poolkit::redis::SentinelClient;

using poolkit::sentinel_testing::data_url;
using poolkit::sentinel_testing::quick_options;
using poolkit::sentinel_testing::test_secret;

bool replica_linked(poolkit::local::RedisSentinelSet& set, std::chrono::seconds timeout) {
  poolkit::redis::Client replica(set.replica().url());
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (replica.info("replication").find("master_link_status") == "up") return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::string local(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

TEST(RedisSentinel, CommandsReachTheMasterTheSentinelsName) {
  poolkit::local::RedisSentinelSet set({.password = test_secret()});
  SentinelClient redis(data_url(set), set.master_name(), quick_options());
  EXPECT_EQ(redis.master_address(), local(set.master().port()));
  ASSERT_TRUE(redis.set("sentinel:greeting", "hello"));
  EXPECT_EQ(redis.incr("sentinel:count", 5), 5);
  EXPECT_EQ(redis.get("sentinel:greeting"), "hello");

  poolkit::redis::Client master(set.master().url());
  EXPECT_EQ(master.get("sentinel:greeting"), "hello") << "the write went to another node";

  const poolkit::redis::SentinelHealth health = redis.health();
  EXPECT_TRUE(health.ok()) << health.master.error;
  EXPECT_EQ(health.master.address, local(set.master().port()));
  EXPECT_EQ(health.master.role, "master");
  ASSERT_EQ(health.replicas.size(), 1u);
  EXPECT_EQ(health.replicas[0].address, local(set.replica().port()));
  EXPECT_EQ(health.sentinels.size(), 3u);
  EXPECT_LE(redis.stats().client.pool.total, 8u);
}

TEST(RedisSentinel, AnUnknownMasterNameIsAConfigErrorNamingTheSetting) {
  poolkit::local::RedisSentinelSet set({.password = test_secret()});
  SentinelClient redis(data_url(set), "no-such-master", quick_options());
  try {
    redis.get("k");
    FAIL() << "a master name no sentinel monitors was accepted";
  } catch (const poolkit::ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("REDIS_SENTINEL_MASTER"), std::string::npos) << message;
    EXPECT_NE(message.find("no-such-master"), std::string::npos) << message;
    EXPECT_EQ(message.find(test_secret()), std::string::npos) << "the password leaked";
  }
}

TEST(RedisSentinel, NoSentinelAnsweringIsAConnectErrorWithinTheTimeouts) {
  const std::string url = "redis://:" + test_secret() +
                          "@127.0.0.1:" + std::to_string(poolkit::local::free_loopback_port()) +
                          ",127.0.0.1:" + std::to_string(poolkit::local::free_loopback_port());
  SentinelClient redis(url, "mymaster", quick_options());
  const auto started = Clock::now();
  try {
    redis.set("k", "v");
    FAIL() << "no sentinel answers, yet the call succeeded";
  } catch (const poolkit::ConnectError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("mymaster"), std::string::npos) << message;
    EXPECT_EQ(message.find(test_secret()), std::string::npos) << "the password leaked";
  }
  // The retry budget (2 s) plus one round of sentinel questions, generously.
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(6));
}

// REDIS_READ_FROM: reads on the replica the sentinels list, writes on the master; with
// replica_preferred a dead replica sends reads back to the master.
TEST(RedisSentinel, ReadFromSendsReadsToTheReplicaAndWritesToTheMaster) {
  poolkit::local::RedisSentinelSet set({.password = test_secret()});
  ASSERT_TRUE(replica_linked(set, std::chrono::seconds(20))) << "the replica never synced";
  auto options = quick_options();
  options.read_from = poolkit::RedisReadFrom::replica;
  SentinelClient redis(data_url(set), set.master_name(), options);
  ASSERT_TRUE(redis.set("sentinel:read-from", "v")) << "the write went to a replica";
  EXPECT_EQ(redis.command("WAIT", 1, 2000).as_integer(), 1) << "not replicated";
  EXPECT_EQ(redis.get("sentinel:read-from"), "v");
  EXPECT_EQ(redis.stats().replica, local(set.replica().port()));
  EXPECT_EQ(redis.stats().replica_reads, 1u);

  options.read_from = poolkit::RedisReadFrom::replica_preferred;
  SentinelClient preferred(data_url(set), set.master_name(), options);
  EXPECT_EQ(preferred.get("sentinel:read-from"), "v");
  set.replica().kill();
  const auto started = Clock::now();
  EXPECT_EQ(preferred.get("sentinel:read-from"), "v") << "no fallback to the master";
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(5));
  EXPECT_THROW(redis.get("sentinel:read-from"), poolkit::ConnectError)
      << "REDIS_READ_FROM=replica read from the master";
}

// Threads writing while the master dies: typed errors only while the sentinels elect the
// replica, then the writes reach it; nothing acknowledged is lost.
TEST(RedisSentinel, TheClientFollowsAFailoverUnderLoad) {
  poolkit::local::RedisSentinelSet set({.password = test_secret()});
  SentinelClient redis(data_url(set), set.master_name(), quick_options());
  ASSERT_EQ(redis.master_address(), local(set.master().port()));
  redis.set("sentinel:warm", "1");
  // The replica must have finished its first sync (link up), or it has nothing to hand over.
  ASSERT_TRUE(replica_linked(set, std::chrono::seconds(20))) << "the replica never synced";

  constexpr int kThreads = 4;
  const auto run_for = std::chrono::seconds(8);
  std::atomic<long long> incr_ok{0}, errors{0}, untyped{0}, leaked{0};
  // INCRs sent once the client had followed, and the lowest value they returned: the counter
  // the new master started from is at most that minus one.
  std::atomic<long long> incr_ok_after{0}, lowest_value_after{LLONG_MAX};
  std::atomic<Clock::rep> longest_call{0};
  std::atomic<Clock::rep> first_success_after_kill{0};  // since kill, on the promoted replica
  std::atomic<bool> killed{false};
  Clock::time_point kill_time{};
  std::mutex sets_mutex;
  std::vector<std::pair<std::string, std::string>> acknowledged_sets;
  // SETs acknowledged whose INCR failed (the master died in between): the old master may not
  // have sent them to its replica yet (asynchronous replication). Reported, not asserted.
  std::vector<std::pair<std::string, std::string>> unconfirmed_sets;

  const auto started = Clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; Clock::now() - started < run_for && i < 200'000; ++i) {
        const std::string key = "sentinel:set:" + std::to_string(t) + ":" + std::to_string(i);
        // Set before the call: the client had followed already, so the INCR goes to the new
        // master, whose data no failover can take back.
        const bool after_failover = first_success_after_kill != 0;
        bool set_ok_incr_not = false;
        const auto call_started = Clock::now();
        try {
          redis.set(key, std::to_string(i));
          set_ok_incr_not = true;
          const long long value = redis.incr("sentinel:counter");
          ++incr_ok;
          set_ok_incr_not = false;
          {
            // The INCR ran after the SET on the same server, and replication keeps that order:
            // wherever the INCR counts, the SET is there too.
            const std::lock_guard lock(sets_mutex);
            acknowledged_sets.emplace_back(key, std::to_string(i));
          }
          if (after_failover) {
            ++incr_ok_after;
            long long low = lowest_value_after;
            while (value < low && !lowest_value_after.compare_exchange_weak(low, value)) {
            }
          }
          if (killed && first_success_after_kill == 0 &&
              redis.stats().master == local(set.replica().port())) {
            Clock::rep expected = 0;
            first_success_after_kill.compare_exchange_strong(expected,
                                                             (Clock::now() - kill_time).count());
          }
        } catch (const poolkit::Error& error) {
          ++errors;
          if (set_ok_incr_not) {
            const std::lock_guard lock(sets_mutex);
            unconfirmed_sets.emplace_back(key, std::to_string(i));
          }
          if (std::string(error.what()).find(test_secret()) != std::string::npos) ++leaked;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        } catch (...) {
          ++untyped;
        }
        const Clock::rep took = (Clock::now() - call_started).count();
        Clock::rep seen = longest_call;
        while (took > seen && !longest_call.compare_exchange_weak(seen, took)) {
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  kill_time = Clock::now();
  killed = true;
  set.master().kill();
  for (auto& thread : threads) thread.join();

  const auto to_ms = [](Clock::rep ticks) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::duration(ticks)).count();
  };
  const auto stats = redis.stats();
  std::printf(
      "[ sentinel ] failover under load: first write on the promoted replica %lld ms after the "
      "kill; %lld INCRs ok, %lld typed errors, longest call %lld ms, %llu failovers, %llu "
      "resolves, %llu retries\n",
      static_cast<long long>(to_ms(first_success_after_kill)), incr_ok.load(), errors.load(),
      static_cast<long long>(to_ms(longest_call)), static_cast<unsigned long long>(stats.failovers),
      static_cast<unsigned long long>(stats.resolves),
      static_cast<unsigned long long>(stats.retries));

  EXPECT_EQ(untyped, 0) << "an error that is not a poolkit::Error reached a caller";
  EXPECT_EQ(leaked, 0) << "an error message held the password";
  EXPECT_EQ(stats.master, local(set.replica().port())) << "the client did not follow";
  EXPECT_GE(stats.failovers, 1u);
  ASSERT_GT(first_success_after_kill, 0) << "no write reached the promoted replica";
  EXPECT_LT(to_ms(first_success_after_kill), 10'000) << "the client followed too slowly";
  // Retry budget 2 s + connect 0.5 s + one round trip 2 s, with room for a loaded machine.
  EXPECT_LT(to_ms(longest_call), 8'000) << "a caller hung past its timeouts";

  poolkit::redis::Client promoted(set.replica().url());
  const long long counted = std::stoll(promoted.get("sentinel:counter").value_or("0"));
  // Replication is asynchronous: the old master may acknowledge writes the replica never gets.
  std::printf(
      "[ sentinel ] counter at the new master %lld; acknowledged INCRs %lld; lost with "
      "the old master (asynchronous replication) %lld\n",
      counted, incr_ok.load(), std::max(0LL, incr_ok.load() - counted));
  // An INCR the old master acknowledged is at risk only when the thread's next call failed
  // (a later success on the same server would have been replicated after it): at most one per
  // error. Every run here lost none.
  EXPECT_GE(counted + errors.load(), incr_ok.load()) << "acknowledged INCRs were lost";
  ASSERT_GT(incr_ok_after, 0) << "no INCR after the failover";
  EXPECT_GE(counted, lowest_value_after - 1 + incr_ok_after) << "INCRs after the failover lost";
  const std::lock_guard lock(sets_mutex);
  long long unconfirmed_missing = 0;
  for (const auto& [key, value] : unconfirmed_sets) {
    if (promoted.get(key) != value) ++unconfirmed_missing;
  }
  std::printf(
      "[ sentinel ] SETs acknowledged just before the master died, INCR after them "
      "failed: %zu, of which lost with the old master: %lld\n",
      unconfirmed_sets.size(), unconfirmed_missing);
  // Every other acknowledged SET, before and after the failover, readable on the new master.
  long long missing_after_failover = 0, checked = 0;
  for (const auto& [key, value] : acknowledged_sets) {
    ++checked;
    if (promoted.get(key) != value) ++missing_after_failover;
  }
  EXPECT_GT(checked, 0);
  EXPECT_EQ(missing_after_failover, 0);
}

}  // namespace
