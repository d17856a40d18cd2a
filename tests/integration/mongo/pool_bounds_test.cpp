// MONGODB_MAX_POOL_SIZE, MIN_POOL_SIZE, WAIT_QUEUE_TIMEOUT_MS and MAX_IDLE_TIME_MS, as the
// server sees them.
//
// Counting: each pooled mongoc_client_t is single-threaded, so its server monitoring (a hello
// every heartbeatFrequencyMS) runs on its one application socket, not on a socket of its own.
// The server therefore sees exactly the pool's connections, with no monitoring connections to
// add. (A mongoc_client_pool_t would add one monitoring socket per server, held by its
// background thread.)

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "mongo_test_support.hpp"
#include "poolkit/error.hpp"

namespace poolkit::test {
namespace {

using mongo::Client;
using namespace std::chrono_literals;

class MongoPoolBounds : public MongoTest {
 protected:
  // A cold pool (no warm minimum) of `max` connections with this wait limit.
  static MongoSettings cold_pool(std::size_t max, std::chrono::milliseconds wait) {
    MongoSettings s = settings();
    s.max_pool_size = max;
    s.min_pool_size = 0;
    s.wait_queue_timeout = wait;
    return s;
  }

  void SetUp() override {
    MongoTest::SetUp();
    if (IsSkipped()) return;
    // Connections of earlier tests are closed by the server a moment after the client.
    ASSERT_TRUE(eventually([] { return server_connections() == 0; }, 10s));
  }
};

// Samples the server's connection count every 10 ms until stopped; remembers the highest.
class ServerCountSampler {
 public:
  explicit ServerCountSampler(std::function<std::optional<int>()> count)
      : count_(std::move(count)), thread_([this] { run(); }) {}
  ~ServerCountSampler() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int highest() const { return highest_; }
  int samples() const { return samples_; }

 private:
  void run() {
    for (int i = 0; i < 6000 && !stop_; ++i) {  // bounded: about a minute at most
      if (auto n = count_()) {
        highest_ = std::max(highest_.load(), *n);
        ++samples_;
      }
      std::this_thread::sleep_for(10ms);
    }
  }

  std::function<std::optional<int>()> count_;
  std::atomic<bool> stop_{false};
  std::atomic<int> highest_{0};
  std::atomic<int> samples_{0};
  std::thread thread_;
};

void ping_on(Client& client, mongo::Lease& lease) {
  bson_t* ping = BCON_NEW("ping", BCON_INT32(1));
  client.run_command(lease, "admin", *ping);
  bson_destroy(ping);
}

TEST_F(MongoPoolBounds, ThirtyTwoCallersNeverMakeTheServerSeeMoreThanMaxPoolSize) {
  Client client(cold_pool(4, 30s));
  const std::string app = appname();
  ServerCountSampler sampler([&] { return server().open_connections(app); });

  // The callers keep the pool saturated until the sampler has seen the server 20 times.
  std::atomic<bool> stop{false};
  std::atomic<int> done{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 32; ++t) {
    callers.emplace_back([&] {
      for (int i = 0; i < 100'000 && !stop; ++i) {
        auto lease = client.checkout();
        ping_on(client, lease);
        std::this_thread::sleep_for(5ms);  // hold it, so the others must queue
      }
      ++done;
    });
  }
  const bool sampled = eventually([&] { return sampler.samples() >= 20; }, 30s);
  stop = true;
  for (auto& caller : callers) caller.join();
  sampler.stop();

  EXPECT_TRUE(sampled);
  EXPECT_EQ(done.load(), 32);
  EXPECT_EQ(sampler.highest(), 4) << "the server must see the bound reached, never passed";
  const PoolStats stats = client.stats().pool;
  EXPECT_EQ(stats.created, 4u);
  EXPECT_GT(stats.waited, 0u);
}

TEST_F(MongoPoolBounds, ThirtyTwoCallersPastTheWaitGetPoolTimeoutErrorAndTheBoundHolds) {
  Client client(cold_pool(4, 100ms));
  const std::string app = appname();
  ServerCountSampler sampler([&] { return server().open_connections(app); });

  std::atomic<int> served{0};
  std::atomic<int> timed_out{0};
  std::atomic<int> other_failures{0};
  std::vector<std::thread> callers;
  for (int t = 0; t < 32; ++t) {
    callers.emplace_back([&] {
      try {
        auto lease = client.checkout();
        ping_on(client, lease);
        std::this_thread::sleep_for(400ms);  // far longer than anyone may wait
        ++served;
      } catch (const PoolTimeoutError& error) {
        // Exhausted; or, while the cold pool is still opening its four (two at a time on a
        // slow machine), waiting behind the connecting limit: each message names the size.
        const std::string message = error.what();
        const bool diagnosed =
            message.find("The pool is exhausted") != std::string::npos ||
            message.find("behind the connections being opened") != std::string::npos;
        if (diagnosed && message.find("MONGODB_MAX_POOL_SIZE") != std::string::npos) {
          ++timed_out;
        } else {
          ++other_failures;
        }
      } catch (...) {
        ++other_failures;
      }
    });
  }
  for (auto& caller : callers) caller.join();
  sampler.stop();

  EXPECT_EQ(other_failures.load(), 0);
  EXPECT_GE(served.load(), 4);
  EXPECT_GT(timed_out.load(), 0);
  EXPECT_EQ(served + timed_out, 32);
  EXPECT_LE(sampler.highest(), 4);
  EXPECT_LE(client.stats().pool.created, 4u);
  EXPECT_EQ(client.stats().pool.failures_by(CheckOutFailure::timeout),
            static_cast<std::uint64_t>(timed_out.load()));
}

TEST_F(MongoPoolBounds, ACallerPastTheWaitGetsPoolTimeoutErrorWithTheDiagnosis) {
  Client client(cold_pool(2, 300ms));
  auto first = client.checkout();
  auto second = client.checkout();

  const auto started = std::chrono::steady_clock::now();
  try {
    (void)client.checkout();
    FAIL() << "the pool is exhausted: the check-out must time out";
  } catch (const PoolTimeoutError& error) {
    const auto waited = std::chrono::steady_clock::now() - started;
    EXPECT_GE(waited, 300ms);
    EXPECT_LT(waited, 5s);
    EXPECT_EQ(error.backend(), Backend::mongo);
    EXPECT_TRUE(error.retryable());
    const std::string message = error.what();
    for (const char* part : {"mongo pool (127.0.0.1:", "timed out after", "wait limit 300 ms",
                             "pool size 2 (MONGODB_MAX_POOL_SIZE)", "2 in use", "0 idle",
                             "raise MONGODB_MAX_POOL_SIZE"}) {
      EXPECT_NE(message.find(part), std::string::npos) << part << " missing from: " << message;
    }
  }
  EXPECT_EQ(client.stats().pool.failures_by(CheckOutFailure::timeout), 1u);
}

TEST_F(MongoPoolBounds, WaitersAreServedInArrivalOrder) {
  Client client(cold_pool(1, 5000ms));
  auto held = client.checkout();

  std::mutex order_mutex;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  bool queued_one_by_one = true;
  for (int i = 0; i < 5; ++i) {
    waiters.emplace_back([&, i] {
      auto lease = client.checkout();
      std::lock_guard lock(order_mutex);
      order.push_back(i);
    });
    // Each waiter is queued before the next one starts.
    queued_one_by_one =
        queued_one_by_one &&
        eventually([&] { return client.stats().pool.waiting == std::size_t(i) + 1; }, 5s);
  }
  held.release();
  for (auto& waiter : waiters) waiter.join();
  ASSERT_TRUE(queued_one_by_one);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(MongoPoolBounds, MinPoolSizeConnectionsAreOpenBeforeTheFirstRequest) {
  MongoSettings s = settings();
  s.min_pool_size = 3;
  s.max_pool_size = 10;
  Client client(s, fast_maintenance());
  // No check-out, no command: the server sees the warm minimum anyway.
  EXPECT_TRUE(eventually([] { return server_connections() == 3; }, 10s));
  EXPECT_EQ(client.stats().pool.idle, 3u);
  EXPECT_EQ(client.stats().pool.checkouts, 0u);
}

TEST_F(MongoPoolBounds, IdleConnectionsBeyondTheMinimumCloseAfterMaxIdleTime) {
  MongoSettings s = settings();
  s.min_pool_size = 1;
  s.max_pool_size = 8;
  s.max_idle_time = 400ms;
  Client client(s, fast_maintenance());
  {
    std::vector<mongo::Lease> leases;
    for (int i = 0; i < 6; ++i) leases.push_back(client.checkout());
    ASSERT_TRUE(eventually([] { return server_connections() == 6; }, 10s));
  }
  // All six are idle now; after 400 ms all but the minimum are closed, and the server knows.
  EXPECT_TRUE(eventually([] { return server_connections() == 1; }, 10s));
  const PoolStats stats = client.stats().pool;
  EXPECT_GE(stats.closed_by(CloseReason::idle), 5u);
  EXPECT_EQ(stats.total, 1u);
}

TEST_F(MongoPoolBounds, ClosingTheClientClosesEveryConnectionAtTheServer) {
  MongoSettings s = settings();
  s.min_pool_size = 4;
  {
    Client client(s, fast_maintenance());
    ASSERT_TRUE(eventually([] { return server_connections() == 4; }, 10s));
    client.close();
    client.close();  // idempotent
    EXPECT_THROW((void)client.checkout(), PoolClosedError);
  }
  EXPECT_TRUE(eventually([] { return server_connections() == 0; }, 10s));
}

}  // namespace
}  // namespace poolkit::test
