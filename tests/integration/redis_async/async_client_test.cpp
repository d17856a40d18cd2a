// The async client against a real redis-server: futures, callbacks and coroutines get their own
// replies; many threads' commands share two connections in order; refused commands; the
// pending bound.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <latch>
#include <map>
#include <thread>
#include <vector>

#include "async_test_support.hpp"
#include "poolkit/error.hpp"
#include "poolkit/pools.hpp"
#include "poolkit/redis_async.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class AsyncRedis : public SharedRedisServer {};

TEST_F(AsyncRedis, FutureCallbackAndBlockingCallsGetTheirReplies) {
  redis::AsyncClient redis(async_settings(server_->url()));
  EXPECT_EQ(redis.send("SET", "k", "v").get().as_string(), "OK");
  EXPECT_EQ(redis.send("GET", "k").get().as_string(), "v");
  EXPECT_EQ(redis.command("INCRBY", "n", 5).as_integer(), 5);
  EXPECT_EQ(redis.async_get("missing").get(), std::nullopt);
  EXPECT_TRUE(redis.async_set("s", "1", {.condition = redis::SetCondition::if_not_exists}).get());
  EXPECT_FALSE(redis.async_set("s", "2", {.condition = redis::SetCondition::if_not_exists}).get());
  EXPECT_EQ(redis.async_mget({"k", "missing", "s"}).get(),
            (std::vector<std::optional<std::string>>{"v", std::nullopt, "1"}));

  std::promise<long long> from_callback;
  redis.send({"INCR", "n"}, [&](redis::AsyncResult result) {
    try {
      from_callback.set_value(result.get().as_integer());
    } catch (...) {
      from_callback.set_exception(std::current_exception());
    }
  });
  EXPECT_EQ(from_callback.get_future().get(), 6);

  // An error reply is a ServerError naming the command; the connection stays in step.
  EXPECT_THROW(redis.command("INCR", "k"), ServerError);
  EXPECT_EQ(redis.command("GET", "k").as_string(), "v");
  auto std_future = redis.async_incr("n").future();
  EXPECT_EQ(std_future.get(), 7);

  // The blocking typed helpers are redis::Commands', over command().
  EXPECT_TRUE(redis.set("typed", "yes"));
  EXPECT_EQ(redis.get("typed"), "yes");
  EXPECT_EQ(redis.incr("typed-n", 3), 3);
  EXPECT_EQ(redis.hset("h", {{"a", "1"}, {"b", "2"}}), 2);
  EXPECT_EQ(redis.hgetall("h"), (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(redis.del({"typed", "typed-n", "h"}), 3);
  EXPECT_EQ(redis.sadd("s2", {"x", "y"}), 2);
  EXPECT_EQ(redis.smembers("s2"), (std::vector<std::string>{"x", "y"}));
}

TEST_F(AsyncRedis, CoroutinesAwaitTypedReplies) {
  redis::AsyncClient redis(async_settings(server_->url()));
  constexpr int kCoroutines = 200;
  constexpr int kSteps = 50;
  std::latch done(kCoroutines);
  std::atomic<int> wrong{0};
  auto body = [&](int id) -> Detached {
    const std::string key = "co:" + std::to_string(id);
    for (int i = 1; i <= kSteps; ++i) {
      const long long n = co_await redis.async_incr(key);
      if (n != i) wrong.fetch_add(1);
      const std::optional<std::string> text = co_await redis.async_get(key);
      if (text != std::to_string(i)) wrong.fetch_add(1);
    }
    done.count_down();
  };
  for (int id = 0; id < kCoroutines; ++id) body(id);
  done.wait();
  EXPECT_EQ(wrong.load(), 0);
  const auto stats = redis.stats();
  EXPECT_GT(stats.max_batch, 1u) << "concurrent commands should share writes";
  EXPECT_EQ(stats.pending, 0u);
}

TEST_F(AsyncRedis, SixtyFourThreadsIncrementTheirOwnCountersExactly) {
  redis::AsyncClient redis(async_settings(server_->url()));
  constexpr int kThreads = 64;
  constexpr int kIncrements = 10'000;
  std::atomic<int> out_of_order{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "counter:" + std::to_string(t);
      for (int i = 1; i <= kIncrements; ++i) {
        if (redis.incr(key) != i) out_of_order.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(out_of_order.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(server_->admin_text({"GET", "counter:" + std::to_string(t)}),
              std::to_string(kIncrements));
  }
  EXPECT_LE(server_->count_clients("pk-async"), 2);
}

TEST_F(AsyncRedis, MixedThreadsAndCoroutinesEachGetTheirOwnReplies) {
  redis::AsyncClient redis(async_settings(server_->url()));
  std::atomic<int> wrong{0};
  constexpr int kCoroutines = 64;
  std::latch coroutines_done(kCoroutines);
  auto coroutine = [&](int id) -> Detached {
    for (int i = 0; i < 200; ++i) {
      const std::string key = fmt::format("co:{}:{}", id, i);
      const std::string value = fmt::format("value-{}-{}", id, i);
      co_await redis.async_set(key, value);
      if (co_await redis.async_get(key) != value) wrong.fetch_add(1);
    }
    coroutines_done.count_down();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::future<redis::Reply>> futures;
      for (int i = 0; i < 500; ++i)
        futures.push_back(redis.send("ECHO", fmt::format("{}:{}", t, i)));
      for (int i = 0; i < 500; ++i) {
        if (futures[i].get().as_string() != fmt::format("{}:{}", t, i)) wrong.fetch_add(1);
      }
    });
  }
  for (int id = 0; id < kCoroutines; ++id) coroutine(id);
  for (auto& thread : threads) thread.join();
  coroutines_done.wait();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(AsyncRedis, ExecutorDecidesWhereCoroutinesResume) {
  std::atomic<int> posted{0};
  redis::AsyncOptions options;
  std::vector<std::thread> resumers;
  std::mutex mutex;
  options.executor = [&](std::coroutine_handle<> handle) {
    posted.fetch_add(1);
    const std::lock_guard lock(mutex);
    resumers.emplace_back([handle] { handle.resume(); });
  };
  redis::AsyncClient redis(async_settings(server_->url()), std::move(options));
  std::promise<bool> on_io_thread;
  auto body = [&]() -> Detached {
    co_await redis.async_set("e", "1");
    on_io_thread.set_value(redis.on_io_thread());
  };
  body();
  EXPECT_FALSE(on_io_thread.get_future().get());
  EXPECT_EQ(posted.load(), 1);
  const std::lock_guard lock(mutex);
  for (auto& thread : resumers) thread.join();
}

TEST_F(AsyncRedis, RefusesCommandsThatHoldOrChangeTheSharedConnection) {
  redis::AsyncClient redis(async_settings(server_->url()));
  for (const auto& words :
       std::vector<std::vector<std::string>>{{"MULTI"},
                                             {"exec"},
                                             {"WATCH", "k"},
                                             {"BLPOP", "q", "0"},
                                             {"SUBSCRIBE", "c"},
                                             {"SELECT", "1"},
                                             {"CLIENT", "REPLY", "OFF"},
                                             {"MONITOR"},
                                             {"XREAD", "BLOCK", "0", "STREAMS", "s", "$"}}) {
    std::vector<redis::Arg> args(words.begin(), words.end());
    try {
      redis.send(std::span<const redis::Arg>(args));
      ADD_FAILURE() << words.front() << " was not refused";
    } catch (const ConfigError& error) {
      const std::string message = error.what();
      EXPECT_TRUE(message.find("transaction()") != std::string::npos ||
                  message.find("with_connection()") != std::string::npos)
          << message;
    }
  }
  // XREAD without BLOCK is fine.
  EXPECT_TRUE(redis.command("XREAD", "STREAMS", "s", "0").is_nil());
}

TEST_F(AsyncRedis, PendingBoundHoldsAndTimesOutWithItsName) {
  RedisSettings settings = async_settings(server_->url());
  settings.max_pending = 4;
  settings.wait_timeout = 300ms;
  settings.socket_timeout = 3s;
  redis::AsyncClient redis(settings);
  // Hold the server so nothing completes: four commands take every slot.
  server_->admin_text({"CLIENT", "PAUSE", "1500", "ALL"});
  std::vector<std::future<redis::Reply>> held;
  for (int i = 0; i < 4; ++i) held.push_back(redis.send("INCR", "bounded"));
  EXPECT_EQ(redis.stats().pending, 4u);
  const auto started = Clock::now();
  try {
    redis.send("INCR", "bounded");
    ADD_FAILURE() << "a fifth command was accepted beyond REDIS_MAX_PENDING=4";
  } catch (const PoolTimeoutError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("REDIS_MAX_PENDING=4"), std::string::npos) << message;
    EXPECT_NE(message.find("4 commands pending"), std::string::npos) << message;
  }
  EXPECT_GE(Clock::now() - started, 250ms);
  for (auto& future : held) EXPECT_GT(future.get().as_integer(), 0);
  EXPECT_EQ(server_->admin_text({"GET", "bounded"}), "4");
  EXPECT_GE(redis.stats().pending_timeouts, 1u);
}

TEST_F(AsyncRedis, OnTheIoThreadAFullBoundFailsAtOnceInsteadOfWaiting) {
  RedisSettings settings = async_settings(server_->url());
  settings.max_pending = 1;
  settings.wait_timeout = 5s;
  redis::AsyncClient redis(settings);
  std::promise<std::string> refusal;
  const auto started = Clock::now();
  redis.send({"PING"}, [&](redis::AsyncResult) {
    // This reply's slot is free again: the first send takes it, the second finds none.
    redis.send({"INCR", "io-thread"}, [](redis::AsyncResult) {});
    try {
      redis.send({"INCR", "io-thread"}, [](redis::AsyncResult) {});
      refusal.set_value("accepted beyond REDIS_MAX_PENDING=1");
    } catch (const PoolTimeoutError& error) {
      refusal.set_value(error.what());
    }
  });
  const std::string message = refusal.get_future().get();
  EXPECT_NE(message.find("I/O thread"), std::string::npos) << message;
  EXPECT_LT(Clock::now() - started, 2s) << "the I/O thread waited for a slot only it can free";
  EXPECT_EQ(redis.command("GET", "io-thread").as_string(), "1");
}

TEST_F(AsyncRedis, AReplyPastItsDeadlineTimesOutOneCommandAndTheNextOnesStayInStep) {
  RedisSettings settings = async_settings(server_->url());
  settings.multiplex_connections = 1;
  settings.socket_timeout = 1500ms;
  redis::AsyncClient redis(settings);
  EXPECT_EQ(redis.command("SET", "a", "first").as_string(), "OK");
  // The pause ends half a deadline after the first command's: the next command, sent as the
  // first times out, has its reply well within its own.
  server_->admin_text({"CLIENT", "PAUSE", "2250", "ALL"});
  const auto started = Clock::now();
  EXPECT_THROW(redis.command("GET", "a"), TimeoutError);
  EXPECT_LT(Clock::now() - started, 3s);
  EXPECT_EQ(redis.command("SET", "b", "second").as_string(), "OK");  // after the pause
  EXPECT_EQ(redis.command("GET", "b").as_string(), "second");
  EXPECT_EQ(redis.command("GET", "a").as_string(), "first");
  EXPECT_EQ(redis.stats().late_replies, 1u);
  EXPECT_EQ(redis.stats().reconnects, 0u);
}

TEST_F(AsyncRedis, CloseFailsLaterCallsAndRunsNoMore) {
  redis::AsyncClient redis(async_settings(server_->url()));
  EXPECT_EQ(redis.command("PING").as_string(), "PONG");
  redis.close();
  redis.close();
  EXPECT_THROW(redis.send("PING"), PoolClosedError);
}

TEST_F(AsyncRedis, RegistryServesHealthMetricsAndClosesIt) {
  Settings settings = Settings::defaults();
  settings.redis = async_settings(server_->url(), "pk-async-registry");
  Pools pools(settings, PoolsOptions{.log = [](std::string_view) {}});
  redis::AsyncClient& redis = pools.redis_async();
  EXPECT_EQ(redis.command("SET", "r", "1").as_string(), "OK");
  const Health health = pools.health({.only = {"redis"}});
  ASSERT_EQ(health.layers.size(), 1u);
  const auto& details = health.layers.front().details;
  const auto found = std::find_if(details.begin(), details.end(),
                                  [](const auto& d) { return d.first == "async_connections"; });
  ASSERT_NE(found, details.end());
  EXPECT_NE(found->second.find("REDIS_MULTIPLEX_CONNECTIONS"), std::string::npos);
  const std::string prometheus = pools.metrics().to_prometheus();
  EXPECT_NE(prometheus.find("poolkit_redis_async_pending"), std::string::npos);
  EXPECT_NE(prometheus.find("kind=\"async_command\""), std::string::npos);
  pools.close();
  EXPECT_THROW(redis.command("GET", "r"), PoolClosedError);
}

}  // namespace
}  // namespace poolkit::test
