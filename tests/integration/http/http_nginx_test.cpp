// The HTTP clients against a real nginx: reuse, limits counted at the server, the timeout that
// includes the wait for a connection, and nginx closing idle connections under our feet.

#include <atomic>
#include <thread>

#include "http_test_support.hpp"

namespace poolkit::test {
namespace {

// Samples nginx's stub_status until stopped; keeps the most seen.
class ConnectionSampler {
 public:
  explicit ConnectionSampler(std::vector<const Nginx*> servers) : servers_(std::move(servers)) {
    thread_ = std::thread([this] {
      while (!stop_.load()) {
        int active = 0;
        int busy = 0;
        for (const Nginx* server : servers_) {
          const auto seen = server->connections();
          active += seen.active;
          busy += seen.busy;
        }
        most_active_ = std::max(most_active_.load(), active);
        most_busy_ = std::max(most_busy_.load(), busy);
        std::this_thread::sleep_for(2ms);
      }
    });
  }
  ~ConnectionSampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int most_active() const { return most_active_.load(); }
  int most_busy() const { return most_busy_.load(); }

 private:
  std::vector<const Nginx*> servers_;
  std::atomic<bool> stop_{false};
  std::atomic<int> most_active_{0};
  std::atomic<int> most_busy_{0};
  std::thread thread_;
};

int count_ok(std::vector<std::future<http::Response>>& futures) {
  int ok = 0;
  for (auto& future : futures) {
    try {
      ok += future.get().status == 200 ? 1 : 0;
    } catch (const std::exception& error) {
      ADD_FAILURE() << error.what();
    }
  }
  return ok;
}

TEST(HttpNginx, AResponseCarriesStatusHeadersBodyTimingsAndReuse) {
  Nginx nginx;
  http::SyncClient client(plain_options());
  const auto first = client.get(nginx.url("/small.txt"));
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, "hello from nginx\n");
  EXPECT_EQ(first.header("content-length"), "17");
  EXPECT_EQ(first.attempts, 1);
  EXPECT_FALSE(first.reused_connection);
  EXPECT_GT(first.timings.total.count(), 0);
  EXPECT_GE(first.timings.first_byte, first.timings.connect);
  const auto second = client.get(nginx.url("/small.txt"));
  EXPECT_TRUE(second.reused_connection);
  const auto missing = client.get(nginx.url("/missing"));
  EXPECT_EQ(missing.status, 404) << "a 4xx is a response, not an error";
}

TEST(HttpNginx, AThousandSequentialRequestsOpenAtMostTwoConnections) {
  Nginx nginx;
  http::SyncClient client(plain_options());
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(client.get(nginx.url("/small.txt")).status, 200);
  const auto log = nginx.access_log(1000);
  EXPECT_EQ(log.size(), 1000u);
  EXPECT_LE(distinct_connections(log).size(), 2u);
  const auto metrics = client.metrics();
  EXPECT_LE(metrics.connections_new, 2u);
  EXPECT_GE(metrics.connections_reused, 998u);
}

// Slow requests first, so the limit is reached and held for a while at the server, then fast
// ones that must queue behind them.
std::vector<std::future<http::Response>> send_slow_then_fast(http::AsyncClient& client,
                                                             const Nginx& nginx, int slow,
                                                             int fast) {
  std::vector<std::future<http::Response>> futures;
  for (int i = 0; i < slow; ++i) {
    futures.push_back(client.send(http::Request::get(nginx.url("/slow/second.bin"))));
  }
  for (int i = 0; i < fast; ++i) {
    futures.push_back(client.send(http::Request::get(nginx.url("/small.txt"))));
  }
  return futures;
}

TEST(HttpNginx, PerHostLimitHoldsAtTheServerWith64InFlight) {
  Nginx nginx;
  auto options = plain_options();
  options.max_connections_per_host = 4;
  http::AsyncClient client(options);
  ConnectionSampler sampler({&nginx});
  auto futures = send_slow_then_fast(client, nginx, 8, 56);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(client.metrics().waiting, 60) << "requests beyond the limit wait in the client";
  EXPECT_EQ(client.metrics().in_flight, 4);
  EXPECT_EQ(count_ok(futures), 64);
  const auto metrics = client.metrics();
  EXPECT_EQ(metrics.peak_in_flight, 4) << "the high-water mark reaches the limit, not beyond";
  ASSERT_EQ(metrics.hosts.size(), 1u);
  EXPECT_EQ(metrics.hosts[0].peak_in_flight, 4);
  EXPECT_EQ(metrics.in_flight, 0);
  sampler.stop();
  EXPECT_LE(sampler.most_active(), 4);
  EXPECT_GE(sampler.most_busy(), 3) << "the test must really hold the limit for a while";
  const auto log = nginx.access_log(64);
  EXPECT_EQ(log.size(), 64u);
  EXPECT_LE(distinct_connections(log).size(), 4u);
}

TEST(HttpNginx, PoolLimitHoldsAcrossTwoHosts) {
  Nginx first;
  Nginx second;
  auto options = plain_options();
  options.max_connections = 6;
  options.max_connections_per_host = 0;
  http::AsyncClient client(options);
  ConnectionSampler sampler({&first, &second});
  auto futures = send_slow_then_fast(client, first, 6, 26);
  auto more = send_slow_then_fast(client, second, 6, 26);
  std::move(more.begin(), more.end(), std::back_inserter(futures));
  EXPECT_EQ(count_ok(futures), 64);
  EXPECT_EQ(client.metrics().peak_in_flight, 6);
  sampler.stop();
  EXPECT_LE(sampler.most_busy(), 6);
  EXPECT_GE(sampler.most_busy(), 5) << "the test must really hold the limit for a while";
}

TEST(HttpNginx, TheTotalTimeoutIncludesTheWaitForAConnection) {
  Nginx nginx;
  auto options = plain_options();
  options.max_connections_per_host = 1;
  options.timeout = 1000ms;
  options.limit_setting = "AIOHTTP_LIMIT_PER_HOST";
  http::AsyncClient client(options);
  auto slow_request = http::Request::get(nginx.url("/slow/long.bin"));
  slow_request.timeout = 20s;
  auto slow = client.send(slow_request);
  std::this_thread::sleep_for(100ms);
  const auto start = std::chrono::steady_clock::now();
  auto waiting = client.send(http::Request::get(nginx.url("/small.txt")));
  try {
    waiting.get();
    ADD_FAILURE() << "the request behind the slow one should have timed out waiting";
  } catch (const PoolTimeoutError& error) {
    EXPECT_NE(std::string(error.what()).find("AIOHTTP_LIMIT_PER_HOST"), std::string::npos);
  }
  const auto waited = since(start);
  EXPECT_GE(waited, 0.8s);
  EXPECT_LE(waited, 1.9s) << "must not wait for the slow transfer (about 3 s) to end";
  EXPECT_EQ(slow.get().status, 200);
  for (const auto& record : nginx.access_log()) EXPECT_NE(record.uri, "/small.txt");
}

TEST(HttpNginx, KeepaliveTimeoutOfOneSecondWithIdleGapsGivesNoErrors) {
  Nginx nginx(1);
  auto options = plain_options();
  options.idle_max_age = 15s;  // longer than nginx's: nginx closes first, as in production
  http::SyncClient client(options);
  const std::vector<std::chrono::milliseconds> gaps = {950ms, 1000ms, 1020ms, 1050ms,
                                                       980ms, 1000ms, 1100ms, 990ms};
  const auto start = std::chrono::steady_clock::now();
  int ok = 0;
  int failed = 0;
  for (std::size_t burst = 0; burst <= gaps.size(); ++burst) {
    std::vector<std::thread> threads;
    std::atomic<int> burst_ok{0};
    std::atomic<int> burst_failed{0};
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 28; ++i) {
          try {
            (client.get(nginx.url("/small.txt")).status == 200 ? burst_ok : burst_failed)++;
          } catch (const std::exception&) {
            ++burst_failed;
          }
        }
      });
    }
    for (auto& thread : threads) thread.join();
    ok += burst_ok;
    failed += burst_failed;
    if (burst < gaps.size()) std::this_thread::sleep_for(gaps[burst]);
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(ok, 4 * 28 * 9);  // 1,008 requests
  EXPECT_LT(since(start), 30s);
  EXPECT_GT(distinct_connections(nginx.access_log()).size(), 4u)
      << "nginx must have closed idle connections during the gaps";
}

TEST(HttpNginx, BodiesUnderTheResponseLimitAreServedWholeAndLargerOnesRefused) {
  Nginx nginx;
  SyncHttpSettings sync_settings{20, 10, 10s, 0, 0ms, 1024 * 1024};
  http::SyncClient sync(sync_settings);
  AsyncHttpSettings async_settings{100,         25,         10s, 300s, 15s, {1, 250ms, 8000ms, 0ms},
                                   {5, 30s, 1}, 1024 * 1024};
  http::AsyncClient async(async_settings);
  for (int i = 0; i < 20; ++i) {
    const auto from_sync = sync.get(nginx.url("/medium.bin"));
    ASSERT_EQ(from_sync.status, 200);
    ASSERT_EQ(from_sync.body, std::string(kMediumFileBytes, 'm'));
    const auto from_async = async.send(http::Request::get(nginx.url("/medium.bin"))).get();
    ASSERT_EQ(from_async.body.size(), kMediumFileBytes);
  }
  auto exactly = http::Request::get(nginx.url("/medium.bin"));
  exactly.max_response_bytes = kMediumFileBytes;
  EXPECT_EQ(sync.send(exactly).body.size(), kMediumFileBytes);
  auto too_small = http::Request::get(nginx.url("/medium.bin"));
  too_small.max_response_bytes = kMediumFileBytes - 1;
  EXPECT_THROW(sync.send(too_small), http::ResponseTooLargeError);
  auto future = async.send(too_small);
  EXPECT_TRUE(ends_with_error<http::ResponseTooLargeError>(future));
  // A HEAD announces the length of a body it never sends: not refused.
  auto head = http::Request::get(nginx.url("/medium.bin"));
  head.method = "HEAD";
  head.max_response_bytes = 1024;
  EXPECT_EQ(sync.send(head).status, 200);
}

}  // namespace
}  // namespace poolkit::test
