// The async client when the server dies under load and comes back, plain and over TLS: only
// typed errors, no call that hangs, no non-idempotent command run twice, and traffic flowing
// again soon after the server returns.

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "async_test_support.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis_async.hpp"
#include "tls_redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct LoadReport {
  int untyped_errors = 0;
  int repeated_increments = 0;  // a reply that could only come from an INCR run twice
  Clock::duration slowest_call{};
  int acknowledged = 0;
  int failed = 0;
};

// Threads INCR their own counters while `restart` kills and restarts the server. Each INCR's
// reply is the counter's value: without a repeat it is at most the last value seen, plus one,
// plus the INCRs that failed in between saying they may have run (Error::may_have_run); a
// restart (no persistence) only lowers it.
template <class Restart>
LoadReport increment_through_restart(redis::AsyncClient& redis, Restart restart) {
  constexpr int kThreads = 8;
  std::atomic<bool> stop{false};
  std::mutex mutex;
  LoadReport report;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "restart:" + std::to_string(t);
      LoadReport mine;
      long long last = 0;
      int failed_since = 0;
      while (!stop.load()) {
        const auto started = Clock::now();
        try {
          const long long value = redis.command("INCR", key).as_integer();
          if (value > last + 1 + failed_since) ++mine.repeated_increments;
          last = value;
          failed_since = 0;
          ++mine.acknowledged;
        } catch (const Error& error) {
          // Only a command that may have run can have moved the counter.
          if (error.may_have_run()) ++failed_since;
          ++mine.failed;
        } catch (...) {
          ++mine.untyped_errors;
        }
        mine.slowest_call = std::max(mine.slowest_call, Clock::now() - started);
      }
      const std::lock_guard lock(mutex);
      report.untyped_errors += mine.untyped_errors;
      report.repeated_increments += mine.repeated_increments;
      report.slowest_call = std::max(report.slowest_call, mine.slowest_call);
      report.acknowledged += mine.acknowledged;
      report.failed += mine.failed;
    });
  }
  std::this_thread::sleep_for(300ms);
  restart();
  std::this_thread::sleep_for(300ms);
  stop = true;
  for (auto& thread : threads) thread.join();
  return report;
}

// After the server is back: how long until a command succeeds again.
Clock::duration time_to_recover(redis::AsyncClient& redis) {
  const auto started = Clock::now();
  while (Clock::now() - started < 10s) {
    try {
      redis.command("PING");
      return Clock::now() - started;
    } catch (const Error&) {
      std::this_thread::sleep_for(10ms);
    }
  }
  return Clock::now() - started;
}

TEST(AsyncRedisFaults, ServerKilledAndRestartedUnderLoad) {
  RedisServer server;
  RedisSettings settings = async_settings(server.url(), "pk-async-restart");
  settings.socket_timeout = 1s;
  redis::AsyncClient redis(settings);
  Clock::duration recovery{};
  const LoadReport report = increment_through_restart(redis, [&] {
    server.kill();
    std::this_thread::sleep_for(200ms);
    server.start();
    recovery = time_to_recover(redis);
  });
  EXPECT_EQ(report.untyped_errors, 0);
  EXPECT_EQ(report.repeated_increments, 0);
  EXPECT_GT(report.acknowledged, 100);
  EXPECT_GT(report.failed, 0) << "the kill went unnoticed: the test proves nothing";
  EXPECT_LT(report.slowest_call, 5s) << "a call hung";
  EXPECT_LT(recovery, 3s) << "traffic did not resume after the server came back";
  EXPECT_GE(redis.stats().reconnects, 1u);
  EXPECT_EQ(redis.command("SET", "after", "1").as_string(), "OK");
}

TEST(AsyncRedisFaults, ServerDownFailsFastWithConnectErrors) {
  RedisServer server;
  RedisSettings settings = async_settings(server.url(), "pk-async-down");
  settings.socket_timeout = 2s;
  redis::AsyncClient redis(settings);
  EXPECT_EQ(redis.command("PING").as_string(), "PONG");
  server.kill();
  const auto started = Clock::now();
  EXPECT_THROW(
      {
        for (int i = 0; i < 50; ++i) redis.command("GET", "k");
      },
      ConnectError);
  EXPECT_LT(Clock::now() - started, 3s);
  server.start();
  EXPECT_LT(time_to_recover(redis), 3s);
}

class AsyncRedisTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<TlsRedisServer>(); }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override { server_->admin_text({"FLUSHALL"}); }
  static inline std::unique_ptr<TlsRedisServer> server_;
};

TEST_F(AsyncRedisTls, PipelinedTrafficFromThreadsAndCoroutines) {
  redis::AsyncClient redis(async_settings(server_->url(), "pk-async-tls"));
  const std::string big(200'000, 'x');  // many TLS records both ways
  EXPECT_TRUE(redis.async_set("big", big).get());
  EXPECT_EQ(redis.async_get("big").get(), big);

  constexpr int kCoroutines = 100;
  std::latch done(kCoroutines);
  std::atomic<int> wrong{0};
  auto body = [&](int id) -> Detached {
    const std::string key = "tls:" + std::to_string(id);
    for (int i = 1; i <= 50; ++i) {
      if (co_await redis.async_incr(key) != i) wrong.fetch_add(1);
    }
    done.count_down();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "tls-thread:" + std::to_string(t);
      for (int i = 1; i <= 1000; ++i) {
        if (redis.command("INCR", key).as_integer() != i) wrong.fetch_add(1);
      }
    });
  }
  for (int id = 0; id < kCoroutines; ++id) body(id);
  for (auto& thread : threads) thread.join();
  done.wait();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(redis.stats().max_batch, 1u);
}

TEST_F(AsyncRedisTls, ServerKilledAndRestartedUnderLoad) {
  RedisSettings settings = async_settings(server_->url(), "pk-async-tls-restart");
  settings.socket_timeout = 1s;
  redis::AsyncClient redis(settings);
  Clock::duration recovery{};
  const LoadReport report = increment_through_restart(redis, [&] {
    server_->kill();
    std::this_thread::sleep_for(200ms);
    server_->start();
    recovery = time_to_recover(redis);
  });
  EXPECT_EQ(report.untyped_errors, 0);
  EXPECT_EQ(report.repeated_increments, 0);
  EXPECT_LT(report.slowest_call, 5s);
  EXPECT_LT(recovery, 3s);
}

}  // namespace
}  // namespace poolkit::test
