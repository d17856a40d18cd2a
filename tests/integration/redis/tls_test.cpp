// Redis over TLS against a real redis-server listening with --tls-port: everything the plain
// connection does (commands, pipelines, transactions, the bound, idle closing, a restart, the
// server's own idle timeout, a paused server) still holds, and a new connection resumes the
// TLS session of an earlier one.

#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "redis_server.hpp"
#include "tls_redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

template <class Predicate>
bool eventually(std::chrono::milliseconds timeout, Predicate predicate) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return predicate();
}

class RedisTls : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<TlsRedisServer>(); }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override { server_->admin_text({"FLUSHALL"}); }
  static inline std::unique_ptr<TlsRedisServer> server_;
};

TEST_F(RedisTls, CommandsPipelinesAndTransactionsWork) {
  redis::Client client(test_settings(server_->url(), "tls-basic"));
  EXPECT_TRUE(client.set("greeting", "hello"));
  EXPECT_EQ(client.get("greeting"), "hello");
  EXPECT_EQ(client.incr("n", 5), 5);
  const std::string big(200'000, 'x');  // many TLS records, both ways
  client.set("big", big);
  EXPECT_EQ(client.get("big"), big);

  auto pipeline = client.pipeline();
  for (int i = 0; i < 500; ++i) pipeline.add("INCR", "p");
  const auto replies = pipeline.execute();
  ASSERT_EQ(replies.size(), 500u);
  EXPECT_EQ(replies.back().as_integer(), 500);

  const auto result = client.transaction([](redis::Transaction& tx) {
    tx.queue("SET", "a", "1");
    tx.queue("INCR", "a");
  });
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ((*result)[1].as_integer(), 2);
  EXPECT_EQ(server_->admin_text({"GET", "a"}), "2");

  const auto stats = client.stats();
  EXPECT_GE(stats.tls_full_handshakes + stats.tls_resumed_handshakes, 1u);
  EXPECT_EQ(server_->count_clients("tls-basic"), static_cast<int>(stats.pool.total));
}

TEST_F(RedisTls, ALocalhostNameIsCheckedAgainstTheCertificateToo) {
  redis::Client client(test_settings(server_->url("localhost"), "tls-localhost"));
  EXPECT_EQ(client.ping() < 5s, true);
}

TEST_F(RedisTls, ASecondConnectionResumesTheFirstOnesSession) {
  redis::Client client(test_settings(server_->url(), "tls-resume"));
  { const redis::Connection first = client.open_unpooled(); }
  { const redis::Connection second = client.open_unpooled(); }
  auto stats = client.stats();
  EXPECT_EQ(stats.tls_full_handshakes, 1u);
  EXPECT_EQ(stats.tls_resumed_handshakes, 1u);

  // Without resumption every connection pays a full handshake: the counter really measures.
  redis::Client full(server_->url(), {.resume_tls_sessions = false});
  for (int i = 0; i < 3; ++i) const redis::Connection connection = full.open_unpooled();
  stats = full.stats();
  EXPECT_EQ(stats.tls_full_handshakes, 3u);
  EXPECT_EQ(stats.tls_resumed_handshakes, 0u);
}

TEST_F(RedisTls, TheBoundHoldsAtTheServerWith32Callers) {
  auto settings = test_settings(server_->url(), "tls-bound");
  settings.max_connections = 6;
  redis::Client client(settings);
  std::atomic<int> errors{0};
  std::atomic<int> most_seen{0};
  std::atomic<bool> stop{false};
  std::thread watcher([&] {
    while (!stop) {
      most_seen = std::max(most_seen.load(), server_->count_clients("tls-bound"));
      std::this_thread::sleep_for(20ms);
    }
  });
  std::vector<std::thread> callers;
  for (int t = 0; t < 32; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) {
        try {
          client.set("k" + std::to_string(t), std::to_string(i));
        } catch (const Error&) {
          ++errors;
        }
      }
    });
  }
  for (auto& caller : callers) caller.join();
  stop = true;
  watcher.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GE(most_seen.load(), 1);
  EXPECT_LE(most_seen.load(), 6);
  EXPECT_LE(client.stats().pool.total, 6u);
}

TEST_F(RedisTls, IdleConnectionsAreClosed) {
  redis::Client client(
      server_->url(),
      {.client_name = "tls-idle", .max_idle_time = 300ms, .background_interval = 100ms});
  client.ping();
  EXPECT_EQ(server_->count_clients("tls-idle"), 1);
  EXPECT_TRUE(eventually(5s, [&] { return server_->count_clients("tls-idle") == 0; }));
  EXPECT_EQ(client.stats().pool.total, 0u);
}

TEST_F(RedisTls, ConnectionsTheServerClosedWhileIdleCauseNoUserVisibleError) {
  TlsRedisServer server;  // its own: the idle timeout applies to every client of the server
  server.set_idle_timeout(1s);
  auto settings = test_settings(server.url(), "tls-server-timeout");
  settings.max_connections = 4;
  redis::Client client(settings);
  std::atomic<int> errors{0};
  for (int burst = 0; burst < 3; ++burst) {
    if (burst > 0) std::this_thread::sleep_for(2200ms);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 50; ++i) {
          try {
            client.incr("calls");  // never retried once written
          } catch (const std::exception&) {
            ++errors;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
  }
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(client.get("calls"), "600");
  EXPECT_GE(client.stats().closed_while_idle, 1u);
}

TEST_F(RedisTls, KillAndRestartMidLoadGivesTypedErrorsAndRecovers) {
  TlsRedisServer server;
  auto settings = test_settings(server.url(), "tls-restart");
  settings.socket_timeout = 1s;
  settings.connect_timeout = 1s;
  settings.wait_timeout = 2s;
  redis::Client client(settings);
  std::atomic<bool> stop{false};
  std::atomic<bool> restarted{false};
  std::atomic<int> untyped{0}, tls_errors{0}, successes_after{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 6; ++t) {
    workers.emplace_back([&, t] {
      const std::string key = "k" + std::to_string(t);
      while (!stop) {
        const bool after = restarted;
        try {
          client.set(key, "v");
          client.get(key);
          if (after) ++successes_after;
        } catch (const TlsError& error) {
          ++tls_errors;  // a restart is no certificate problem
          ADD_FAILURE() << error.what();
        } catch (const Error&) {
          std::this_thread::sleep_for(1ms);
        } catch (...) {
          ++untyped;
        }
      }
    });
  }
  std::this_thread::sleep_for(400ms);
  server.kill();
  std::this_thread::sleep_for(400ms);
  server.start();
  std::this_thread::sleep_for(1500ms);
  restarted = true;
  std::this_thread::sleep_for(1000ms);
  stop = true;
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(untyped.load(), 0);
  EXPECT_EQ(tls_errors.load(), 0);
  EXPECT_GT(successes_after.load(), 0);
  EXPECT_GE(client.stats().pool_clears, 1u);
}

TEST_F(RedisTls, APausedServerTimesOutAtTheSocketTimeoutThenServesAgain) {
  auto settings = test_settings(server_->url(), "tls-paused");
  settings.socket_timeout = 300ms;
  settings.retry_attempts = 0;
  redis::Client client(settings);
  client.ping();
  ASSERT_EQ(::kill(server_->pid(), SIGSTOP), 0);
  const auto started = Clock::now();
  EXPECT_THROW(client.get("k"), TimeoutError);
  const auto took = Clock::now() - started;
  ::kill(server_->pid(), SIGCONT);
  EXPECT_GE(took, 250ms);
  EXPECT_LT(took, 3s);
  EXPECT_TRUE(eventually(5s, [&] {
    try {
      return client.ping() < 1s;
    } catch (const Error&) {
      return false;
    }
  }));
}

TEST_F(RedisTls, HealthChecksPingOverTls) {
  redis::Client client(server_->url(), {.health_check_interval = 1ms, .client_name = "tls-health"});
  client.ping();
  std::this_thread::sleep_for(20ms);
  client.ping();  // the idle connection is PINGed before reuse, through TLS
  EXPECT_EQ(client.stats().pool.total, 1u);
  EXPECT_EQ(server_->count_clients("tls-health"), 1);
}

}  // namespace
}  // namespace poolkit::test
