// The pool under pressure and faults: the bound, idle closing, a server that closes idle
// connections, a crash and restart, a server that never answers, a paused server.

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <mutex>
#include <thread>

#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A client with a short socket timeout, so a silent or paused server shows quickly.
RedisSettings impatient(const std::string& url, std::chrono::milliseconds socket_timeout,
                        int retry_attempts) {
  auto settings = test_settings(url, "impatient");
  settings.socket_timeout = socket_timeout;
  settings.retry_attempts = retry_attempts;
  return settings;
}

std::string silent_url(const SilentListener& listener) {
  return "redis://127.0.0.1:" + std::to_string(listener.port());
}

// Polls until the predicate holds or the timeout passes.
template <class Predicate>
bool eventually(std::chrono::milliseconds timeout, Predicate predicate) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

TEST(RedisPool, BoundHoldsWith32CallersAndLateCallersGetPoolTimeoutError) {
  RedisServer server;
  auto settings = test_settings(server.url(), "bound-test");
  settings.max_connections = 4;
  settings.wait_timeout = 300ms;
  redis::Client client(settings);

  std::atomic<bool> done{false};
  int most_seen = 0;
  std::thread monitor([&] {
    for (int i = 0; i < 500 && !done; ++i) {
      most_seen = std::max(most_seen, server.count_clients("bound-test"));
      std::this_thread::sleep_for(10ms);
    }
  });
  std::atomic<int> served{0}, pool_timeouts{0}, other_errors{0};
  std::string timeout_message;
  std::mutex message_mutex;
  std::vector<std::thread> callers;
  std::latch start(32);
  for (int i = 0; i < 32; ++i) {
    callers.emplace_back([&] {
      start.arrive_and_wait();
      try {
        client.command("BLPOP", "never-filled", "0.6");  // holds its connection 600 ms
        ++served;
      } catch (const PoolTimeoutError& error) {
        ++pool_timeouts;
        std::lock_guard lock(message_mutex);
        timeout_message = error.what();
      } catch (const std::exception&) {
        ++other_errors;
      }
    });
  }
  for (auto& caller : callers) caller.join();
  done = true;
  monitor.join();

  EXPECT_LE(most_seen, 4);
  EXPECT_GE(most_seen, 1);
  EXPECT_GE(served.load(), 4);
  EXPECT_GE(pool_timeouts.load(), 1);
  EXPECT_EQ(served + pool_timeouts, 32);
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_TRUE(contains(timeout_message, "REDIS_MAX_CONNECTIONS")) << timeout_message;
  EXPECT_LE(client.stats().pool.created, 4u);
}

TEST(RedisPool, IdleConnectionsAreClosedAfterTheIdleTime) {
  RedisServer server;
  redis::ClientOptions options;
  options.max_idle_time = 300ms;
  options.background_interval = 100ms;
  redis::Client client(test_settings(server.url(), "idle-test"), options);

  std::latch all_leased(4);
  std::vector<std::thread> users;
  for (int i = 0; i < 4; ++i) {
    users.emplace_back([&] {
      client.with_connection([&](redis::Connection& connection) {
        connection.command("PING");
        all_leased.arrive_and_wait();  // four connections at once
      });
    });
  }
  for (auto& user : users) user.join();
  EXPECT_EQ(server.count_clients("idle-test"), 4);
  EXPECT_TRUE(eventually(5s, [&] { return server.count_clients("idle-test") == 0; }));
  EXPECT_EQ(client.stats().pool.closed_by(CloseReason::idle), 4u);
  EXPECT_EQ(client.get("still-works"), std::nullopt);
}

TEST(RedisPool, IdleConnectionIsPingedBeforeReuseAndADeadOneIsReplacedQuietly) {
  RedisServer server;
  auto settings = test_settings(server.url(), "health-test");
  settings.health_check_interval = 100ms;
  redis::Client client(settings);
  const long long id = client.with_connection([](redis::Connection& connection) {
    return connection.command("CLIENT", "ID").as_integer();
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(client.get("k"), std::nullopt);  // idle past the interval: PINGed first, alive
  EXPECT_EQ(client.stats().pool.health_checks, 1u);
  EXPECT_EQ(client.stats().pool.health_check_failures, 0u);

  server.admin_integer({"CLIENT", "KILL", "ID", std::to_string(id)});
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(client.get("k"), std::nullopt);  // the dead one fails its check; a new one serves
  const auto stats = client.stats();
  EXPECT_EQ(stats.pool.health_check_failures, 1u);
  EXPECT_EQ(stats.pool.created, 2u);
  EXPECT_EQ(stats.retries, 0u);
}

TEST(RedisPool, PoolEventsReachTheListener) {
  struct Recorder final : PoolListener {
    void on_event(const PoolEvent& event) noexcept override {
      if (event.type == PoolEventType::connection_created) ++created;
      if (event.type == PoolEventType::checked_out) ++checked_out;
    }
    std::atomic<int> created{0}, checked_out{0};
  };
  RedisServer server;
  auto recorder = std::make_shared<Recorder>();
  redis::ClientOptions options;
  options.listener = recorder;
  redis::Client client(test_settings(server.url()), options);
  client.ping();
  client.ping();
  EXPECT_EQ(recorder->created.load(), 1);
  EXPECT_EQ(recorder->checked_out.load(), 2);
}

TEST(RedisPool, ServerClosingIdleConnectionsCausesNoUserVisibleErrors) {
  RedisServer server;
  server.set_idle_timeout(1s);
  auto settings = test_settings(server.url(), "server-timeout-test");
  settings.max_connections = 4;
  redis::Client client(settings);

  // 1,000 INCRs (which are never retried once written) in 5 bursts, with gaps long enough for
  // the server to close every idle connection (it checks `timeout` in whole seconds).
  constexpr int kThreads = 4, kBursts = 5, kPerBurst = 50;
  std::atomic<int> errors{0};
  for (int burst = 0; burst < kBursts; ++burst) {
    if (burst > 0) std::this_thread::sleep_for(2200ms);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kPerBurst; ++i) {
          try {
            client.incr("calls");
          } catch (const std::exception&) {
            ++errors;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(client.get("calls"), std::to_string(kThreads * kBursts * kPerBurst));
  // The server really did close them, and they were found before anything was written.
  EXPECT_GE(client.stats().closed_while_idle, 1u);
}

TEST(RedisPool, KillAndRestartMidLoadGivesTypedErrorsAndRecoversWithinASecond) {
  RedisServer server;
  auto settings = test_settings(server.url(), "restart-test");
  settings.socket_timeout = 1s;
  settings.connect_timeout = 1s;
  settings.wait_timeout = 2s;
  redis::Client client(settings);

  constexpr int kThreads = 8;
  std::atomic<bool> stop{false};
  std::atomic<Clock::rep> back_at{(Clock::now() + 1h).time_since_epoch().count()};
  std::atomic<int> untyped{0}, errors_after_recovery{0};
  std::atomic<long long> slowest_us{0};
  std::vector<int> successes_after_recovery(kThreads, 0);
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      const std::string key = "k" + std::to_string(t);
      for (int i = 0; !stop && i < 10'000'000; ++i) {
        const auto started = Clock::now();
        const bool recovered = started > Clock::time_point(Clock::duration(back_at.load())) + 1s;
        try {
          if (i % 3 == 0)
            client.incr("counter-" + key);
          else if (i % 3 == 1)
            client.set(key, "v");
          else
            client.get(key);
          if (recovered) ++successes_after_recovery[t];
        } catch (const Error& error) {
          if (recovered) {
            ++errors_after_recovery;
            ADD_FAILURE() << "after recovery, op " << i % 3 << ": " << error.what();
          }
          std::this_thread::sleep_for(1ms);
        } catch (...) {
          ++untyped;
        }
        const auto took =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        long long seen = slowest_us.load();
        while (took.count() > seen && !slowest_us.compare_exchange_weak(seen, took.count())) {
        }
      }
    });
  }
  std::this_thread::sleep_for(500ms);
  server.kill();
  std::this_thread::sleep_for(500ms);
  server.start();
  back_at = Clock::now().time_since_epoch().count();
  std::this_thread::sleep_for(2500ms);
  stop = true;
  for (auto& worker : workers) worker.join();

  EXPECT_EQ(untyped.load(), 0);
  EXPECT_EQ(errors_after_recovery.load(), 0);
  for (int t = 0; t < kThreads; ++t) EXPECT_GT(successes_after_recovery[t], 0) << "thread " << t;
  // Nobody hangs: the worst call is bounded by its timeouts (1 s + retries), generously.
  EXPECT_LT(slowest_us.load(), 5'000'000);
  const auto stats = client.stats();
  EXPECT_GE(stats.pool_clears, 1u);
  EXPECT_LE(stats.pool.total, settings.max_connections);
}

TEST(RedisPool, SilentServerGivesTimeoutErrorAtTheSocketTimeoutAndThePoolStaysUsable) {
  SilentListener listener;
  auto settings = impatient(silent_url(listener), 300ms, 0);
  settings.max_connections = 2;
  redis::Client client(settings);

  for (int call = 0; call < 4; ++call) {  // more calls than connections: none is leaked
    const auto started = Clock::now();
    EXPECT_THROW(client.get("k"), TimeoutError);
    const auto took = Clock::now() - started;
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 3s);
  }
  const auto stats = client.stats();
  EXPECT_EQ(stats.pool.in_use, 0u);
  EXPECT_EQ(stats.pool.failures_by(CheckOutFailure::timeout), 0u);
}

TEST(RedisPool, SilentServerWithRetriesGivesUpAfterEveryAttempt) {
  SilentListener listener;
  redis::Client client(impatient(silent_url(listener), 200ms, 2));
  const auto started = Clock::now();
  EXPECT_THROW(client.get("k"), TimeoutError);
  const auto took = Clock::now() - started;
  EXPECT_GE(took, 550ms);  // three attempts of 200 ms
  EXPECT_LT(took, 5s);
  EXPECT_EQ(client.stats().retries, 2u);
}

TEST(RedisPool, PausedServerTimesOutThenThePoolServesAgain) {
  RedisServer server;
  redis::Client client(impatient(server.url(), 300ms, 0));
  client.ping();
  server.admin_text({"CLIENT", "PAUSE", "1000", "ALL"});
  EXPECT_THROW(client.get("k"), TimeoutError);
  EXPECT_TRUE(eventually(5s, [&] {
    try {
      return client.ping() < 1s;
    } catch (const Error&) {
      return false;
    }
  }));
  EXPECT_EQ(client.get("k"), std::nullopt);
}

TEST(RedisPool, NonIdempotentCommandIsNotRepeatedOnceWritten) {
  RedisServer server;
  redis::Client client(impatient(server.url(), 300ms, 3));
  client.ping();
  server.admin_text({"CLIENT", "PAUSE", "800", "WRITE"});
  EXPECT_THROW(client.incr("counter"), TimeoutError);
  EXPECT_EQ(client.stats().retries, 0u);
  std::this_thread::sleep_for(900ms);
  EXPECT_LE(std::stoll(client.get("counter").value_or("0")), 1);
}

TEST(RedisPool, IdempotentCommandIsRetriedAfterATimeout) {
  RedisServer server;
  redis::Client client(impatient(server.url(), 300ms, 3));
  client.ping();
  server.admin_text({"CLIENT", "PAUSE", "400", "WRITE"});
  EXPECT_TRUE(client.set("key", "value"));
  EXPECT_GE(client.stats().retries, 1u);
  EXPECT_EQ(client.get("key"), "value");
}

}  // namespace
}  // namespace poolkit::test
