// The HTTP clients against the faults a real server can't be asked for: retries (503s,
// Retry-After), refused and silent listeners, a connection closed mid-response or dropped while
// pooled, the circuit breaker, and closing the client with requests in flight.

#include <atomic>
#include <thread>

#include "http_test_support.hpp"

namespace poolkit::test {
namespace {

std::string unavailable(const std::vector<std::string>& headers = {}) {
  return http_response(503, "busy", headers);
}

http::ClientOptions sync_options(int retries) {
  SyncHttpSettings settings{20, 10, 10000ms, retries, 0ms};
  return http::ClientOptions::from(settings);
}

http::ClientOptions async_options(int attempts) {
  auto options = plain_options();
  options.retry = RetryPolicy::resilience(attempts, Backoff{.base = 10ms, .cap = 50ms}, 30s);
  return options;
}

TEST(HttpRetries, SyncSucceedsOnTheThirdAttemptAfterTwo503s) {
  FaultServer server(FaultServer::scripted({unavailable(), unavailable(), http_response(200)}));
  http::SyncClient client(sync_options(2));
  const auto response = client.get(server.url());
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.attempts, 3);
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(client.metrics().retries, 2u);
  ASSERT_EQ(client.metrics().hosts.size(), 1u);
  EXPECT_EQ(client.metrics().hosts[0].retries, 2u);
}

TEST(HttpRetries, AsyncSucceedsOnTheThirdAttemptAfterTwo503s) {
  FaultServer server(FaultServer::scripted({unavailable(), unavailable(), http_response(200)}));
  http::AsyncClient client(async_options(3));
  const auto response = client.send(http::Request::get(server.url())).get();
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.attempts, 3);
  EXPECT_EQ(client.metrics().retries, 2u);
}

TEST(HttpRetries, SyncReturnsTheLastResponseAfterTheLastRetry) {
  FaultServer server(FaultServer::scripted({unavailable()}));
  http::SyncClient client(sync_options(2));
  const auto response = client.get(server.url());
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.attempts, 3);
  EXPECT_EQ(server.requests(), 3);
}

TEST(HttpRetries, AsyncRaisesTheErrorAfterTheLastAttempt) {
  FaultServer server(FaultServer::scripted({unavailable()}));
  http::AsyncClient client(async_options(3));
  auto future = client.send(http::Request::get(server.url()));
  try {
    future.get();
    ADD_FAILURE() << "expected a StatusError";
  } catch (const http::StatusError& error) {
    EXPECT_EQ(error.status(), 503);
    EXPECT_EQ(error.response().attempts, 3);
  }
  EXPECT_EQ(server.requests(), 3);
}

TEST(HttpRetries, RetryAfterIsHonoured) {
  FaultServer server(FaultServer::scripted({unavailable({"Retry-After: 1"}), http_response(200)}));
  http::SyncClient client(sync_options(2));
  const auto start = std::chrono::steady_clock::now();
  const auto response = client.get(server.url());
  EXPECT_EQ(response.status, 200);
  EXPECT_GE(since(start), 0.9s);
  EXPECT_LT(since(start), 5s);
}

TEST(HttpRetries, SyncRetriesAPostOn503AsUrllib3Does) {
  FaultServer server(FaultServer::scripted({unavailable(), unavailable(), http_response(200)}));
  http::SyncClient client(sync_options(2));
  const auto response = client.send(http::Request::post(server.url(), "payload"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(server.requests(), 3);
}

TEST(HttpRetries, AsyncDoesNotRetryAPostOn503UnlessTheRequestOptsIn) {
  FaultServer server(FaultServer::scripted({unavailable(), http_response(200)}));
  http::AsyncClient client(async_options(3));
  const auto response = client.send(http::Request::post(server.url(), "payload")).get();
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.attempts, 1);
  EXPECT_EQ(server.requests(), 1);
  auto opted_in = http::Request::post(server.url(), "payload");
  opted_in.retry_non_idempotent = true;
  EXPECT_EQ(client.send(opted_in).get().status, 200);
}

TEST(HttpErrors, ConnectionRefusedIsAConnectError) {
  const int port = free_loopback_port();
  http::SyncClient client(sync_options(0));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(client.get("http://127.0.0.1:" + std::to_string(port) + "/"), ConnectError);
  EXPECT_LT(since(start), 5s);
}

TEST(HttpErrors, ConnectErrorsAreRetriedThenRaised) {
  const int port = free_loopback_port();
  http::AsyncClient client(async_options(3));
  auto future = client.send(http::Request::get("http://127.0.0.1:" + std::to_string(port) + "/"));
  try {
    future.get();
    ADD_FAILURE() << "expected a ConnectError";
  } catch (const ConnectError& error) {
    EXPECT_NE(std::string(error.what()).find("3 attempts"), std::string::npos) << error.what();
  }
  EXPECT_EQ(client.metrics().retries, 2u);
}

TEST(HttpErrors, AListenerThatNeverAnswersTimesOutWithinTheTimeout) {
  FaultServer server([](FaultServer&, FaultConnection& connection) { connection.hold(); });
  auto options = sync_options(2);
  options.timeout = 500ms;
  http::SyncClient client(options);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THROW(client.get(server.url()), TimeoutError);
  EXPECT_GE(since(start), 0.4s);
  EXPECT_LT(since(start), 3s) << "a timeout is not retried";
}

TEST(HttpErrors, AServerClosingMidResponseIsAProtocolError) {
  FaultServer server([](FaultServer& self, FaultConnection& connection) {
    if (!connection.read_request()) return;
    self.count_request();
    connection.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly a part");
  });
  http::AsyncClient client(async_options(3));
  auto future = client.send(http::Request::get(server.url()));
  EXPECT_TRUE(ends_with_error<ProtocolError>(future));
  EXPECT_EQ(server.requests(), 1) << "a broken exchange is not retried";
}

TEST(HttpErrors, AnInvalidUrlIsAConfigErrorWithoutTheSecret) {
  http::SyncClient client(sync_options(0));
  try {
    client.get("ftp://user:hunter2@example.com/");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_EQ(std::string(error.what()).find("hunter2"), std::string::npos);
  }
}

// Answers the first request of each connection and keeps it open; when the second request
// arrives, drops the connection without answering: what the next request on a pooled
// connection sees when the server closed it while idle. `reset` drops it with a RST (the
// request fails with a receive error) instead of a FIN.
FaultServer::Handler answer_once_per_connection(bool reset) {
  return [reset](FaultServer& server, FaultConnection& connection) {
    if (!connection.read_request()) return;
    server.count_request();
    connection.write(http_response(200, "ok", {}, true));
    if (!connection.read_request()) return;
    server.count_request();
    if (reset) connection.reset();
  };
}

TEST(HttpStaleConnection, AGetOnAPooledConnectionTheServerDroppedIsResentAtOnce) {
  for (const bool reset : {false, true}) {
    FaultServer server(answer_once_per_connection(reset));
    http::SyncClient client(sync_options(0));
    EXPECT_EQ(client.get(server.url()).status, 200);
    const auto start = std::chrono::steady_clock::now();
    const auto second = client.get(server.url());
    EXPECT_EQ(second.status, 200) << "reset " << reset;
    EXPECT_FALSE(second.reused_connection);
    EXPECT_EQ(server.requests(), 3);
    EXPECT_LT(since(start), 1s) << "at once, without a backoff";
  }
}

TEST(HttpStaleConnection, APostOnAPooledConnectionTheServerDroppedIsNotResent) {
  for (const bool reset : {false, true}) {
    FaultServer server(answer_once_per_connection(reset));
    http::SyncClient client(sync_options(2));
    EXPECT_EQ(client.get(server.url()).status, 200);
    try {
      client.send(http::Request::post(server.url(), "pay once"));
      ADD_FAILURE() << "expected a ProtocolError";
    } catch (const ProtocolError& error) {
      EXPECT_NE(std::string(error.what()).find("not sent twice"), std::string::npos)
          << error.what();
    }
    EXPECT_EQ(server.requests(), 2) << "reset " << reset;
  }
}

TEST(HttpCircuitBreaker, OpensFailsFastHalfOpensAndCloses) {
  FaultServer server(FaultServer::scripted({unavailable(), unavailable(), http_response(200)}));
  auto options = async_options(1);
  options.circuit_breaker = CircuitBreakerOptions{2, 500ms, 1};
  http::AsyncClient client(options);
  for (int i = 0; i < 2; ++i) {
    auto failing = client.send(http::Request::get(server.url()));
    EXPECT_TRUE(ends_with_error<http::StatusError>(failing));
  }
  EXPECT_EQ(client.metrics().hosts.at(0).circuit, CircuitState::open);
  const auto start = std::chrono::steady_clock::now();
  auto fast = client.send(http::Request::get(server.url()));
  EXPECT_TRUE(ends_with_error<CircuitOpenError>(fast));
  EXPECT_LT(since(start), 0.2s);
  EXPECT_EQ(server.requests(), 2) << "an open circuit sends nothing";
  std::this_thread::sleep_for(600ms);
  EXPECT_EQ(client.metrics().hosts.at(0).circuit, CircuitState::half_open);
  EXPECT_EQ(client.send(http::Request::get(server.url())).get().status, 200);
  EXPECT_EQ(client.metrics().hosts.at(0).circuit, CircuitState::closed);
  EXPECT_EQ(server.requests(), 3);
}

TEST(HttpShutdown, RequestsInFlightFromSeveralThreadsEndWithAClearError) {
  FaultServer silent([](FaultServer&, FaultConnection& connection) { connection.hold(); });
  auto options = async_options(3);
  options.max_connections_per_host = 4;
  http::AsyncClient async_client(options);
  http::SyncClient sync_client(options);
  std::atomic<int> closed_errors{0};
  std::atomic<int> other_outcomes{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<std::future<http::Response>> futures;
      for (int i = 0; i < 25; ++i)
        futures.push_back(async_client.send(http::Request::get(silent.url())));
      for (auto& future : futures) {
        try {
          future.get();
          ++other_outcomes;
        } catch (const PoolClosedError&) {
          ++closed_errors;
        } catch (...) {
          ++other_outcomes;
        }
      }
    });
    threads.emplace_back([&] {
      try {
        sync_client.get(silent.url());
        ++other_outcomes;
      } catch (const PoolClosedError&) {
        ++closed_errors;
      } catch (...) {
        ++other_outcomes;
      }
    });
  }
  std::this_thread::sleep_for(300ms);
  const auto start = std::chrono::steady_clock::now();
  std::thread closer([&] { sync_client.close(); });
  async_client.close(100ms);
  async_client.close();  // idempotent
  closer.join();
  for (auto& thread : threads) thread.join();
  EXPECT_LT(since(start), 3s);
  EXPECT_EQ(closed_errors.load(), 4 * 25 + 4);
  EXPECT_EQ(other_outcomes.load(), 0);
  auto late = async_client.send(http::Request::get(silent.url()));
  EXPECT_TRUE(ends_with_error<PoolClosedError>(late));
}

TEST(HttpShutdown, DestroyingAClientWithRequestsRunningNeverHangs) {
  FaultServer silent([](FaultServer&, FaultConnection& connection) { connection.hold(); });
  std::vector<std::future<http::Response>> futures;
  const auto start = std::chrono::steady_clock::now();
  {
    http::AsyncClient client(async_options(1));
    for (int i = 0; i < 10; ++i) futures.push_back(client.send(http::Request::get(silent.url())));
    std::this_thread::sleep_for(100ms);
  }
  for (auto& future : futures) EXPECT_TRUE(ends_with_error<PoolClosedError>(future));
  EXPECT_LT(since(start), 3s);
}

TEST(HttpShutdown, DroppingTheLastReferenceInsideACallbackClosesTheClient) {
  FaultServer quick(FaultServer::scripted({http_response(200)}));
  FaultServer silent([](FaultServer&, FaultConnection& connection) { connection.hold(); });
  auto client = std::make_shared<http::AsyncClient>(async_options(1));
  std::vector<std::future<http::Response>> held;
  for (int i = 0; i < 5; ++i) held.push_back(client->send(http::Request::get(silent.url())));
  std::promise<int> first_status;
  std::atomic<bool> test_let_go{false};
  const auto start = std::chrono::steady_clock::now();
  client->send(http::Request::get(quick.url()),
               [&first_status, &test_let_go, owner = client](http::Result result) mutable {
                 // Until the test has dropped its own reference (bounded), so this one is last.
                 for (int i = 0; i < 500 && !test_let_go.load(); ++i) {
                   std::this_thread::sleep_for(10ms);
                 }
                 first_status.set_value(result.error ? -1 : result.response.status);
                 owner.reset();  // the last reference: the client is destroyed on its I/O thread
               });
  client.reset();  // after send() returned: a caller keeps the client alive while calling it
  test_let_go = true;
  EXPECT_EQ(first_status.get_future().get(), 200);
  for (auto& future : held) EXPECT_TRUE(ends_with_error<PoolClosedError>(future));
  EXPECT_LT(since(start), 5s);
}

}  // namespace
}  // namespace poolkit::test
