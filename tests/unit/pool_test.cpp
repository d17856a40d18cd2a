// The generic pool's behaviour, one behaviour per test, with a fake connector.

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <latch>
#include <optional>
#include <poolkit/pool.hpp>
#include <thread>
#include <vector>

#include "fake_connector.hpp"

namespace poolkit {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::FakeConnector;
using testing::FakeServer;
using testing::RecordingListener;
using FakePool = Pool<FakeConnector>;

PoolOptions small_pool(std::size_t max_size = 4) {
  PoolOptions options;
  options.name = "fake";
  options.address = "fake:1";
  options.size_setting = "FAKE_MAX";
  options.max_size = max_size;
  options.wait_queue_timeout = 5s;
  options.background_interval = 20ms;
  return options;
}

// Checks a connection out and back in; returns the serial of the connection it used.
int use_once(FakePool& pool) {
  return pool.checkout()->serial;
}

// Starts a caller that waits on the exhausted pool, runs `action`, and returns the code of
// the error the waiter got (none if it got a connection).
template <class Action>
std::optional<ErrorCode> error_of_waiter_after(FakePool& pool, Action action) {
  std::optional<ErrorCode> waiter_error;
  std::thread waiter([&] {
    try {
      auto lease = pool.checkout();
    } catch (const Error& error) {
      waiter_error = error.code();
    }
  });
  EXPECT_TRUE(eventually([&] { return pool.stats().waiting == 1; }));
  action();
  waiter.join();
  return waiter_error;
}

struct PoolFixture : ::testing::Test {
  std::shared_ptr<FakeServer> server = std::make_shared<FakeServer>();
  std::shared_ptr<RecordingListener> listener = std::make_shared<RecordingListener>();
  FakePool make(PoolOptions options) { return FakePool(FakeConnector(server), options, listener); }
};

TEST_F(PoolFixture, ReturnedConnectionIsReusedInsteadOfOpeningANewOne) {
  auto pool = make(small_pool());
  const int first_serial = use_once(pool);
  for (int i = 0; i < 5; ++i) {
    auto lease = pool.checkout();
    EXPECT_EQ(lease->serial, first_serial);
  }
  EXPECT_EQ(server->opened, 1);
  EXPECT_EQ(pool.stats().checkouts, 6u);
}

TEST_F(PoolFixture, LeaseReturnsItselfWhenDestroyedOrReleased) {
  auto pool = make(small_pool());
  {
    auto lease = pool.checkout();
    EXPECT_EQ(pool.stats().in_use, 1u);
  }
  EXPECT_EQ(pool.stats().in_use, 0u);
  EXPECT_EQ(pool.stats().idle, 1u);
  auto lease = pool.checkout();
  lease.release();
  EXPECT_FALSE(lease);
  EXPECT_EQ(pool.stats().idle, 1u);
}

TEST_F(PoolFixture, MovedLeaseReturnsOnlyOnce) {
  auto pool = make(small_pool());
  auto a = pool.checkout();
  auto b = std::move(a);
  FakePool::LeaseType c;
  c = std::move(b);
  EXPECT_EQ(pool.stats().in_use, 1u);
  c.release();
  EXPECT_EQ(pool.stats().in_use, 0u);
  EXPECT_EQ(pool.stats().idle, 1u);
}

TEST_F(PoolFixture, BrokenLeaseIsClosedInsteadOfReused) {
  auto pool = make(small_pool());
  int broken_serial = 0;
  {
    auto lease = pool.checkout();
    broken_serial = lease->serial;
    lease.mark_broken();
  }
  EXPECT_EQ(server->closed, 1);
  EXPECT_EQ(listener->closed_with(CloseReason::error), 1);
  auto lease = pool.checkout();
  EXPECT_NE(lease->serial, broken_serial);
}

TEST_F(PoolFixture, NeverOpensMoreThanMaxSize) {
  auto pool = make(small_pool(3));
  std::vector<std::thread> threads;
  std::atomic<int> most_live{0};
  for (int t = 0; t < 12; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto lease = pool.checkout();
        int live = server->live();
        int seen = most_live.load();
        while (live > seen && !most_live.compare_exchange_weak(seen, live)) {
        }
        std::this_thread::yield();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most_live.load(), 3);
  EXPECT_LE(server->opened.load(), 3);
}

TEST_F(PoolFixture, ExhaustedPoolTimesOutWithADiagnosis) {
  auto options = small_pool(2);
  options.wait_queue_timeout = 50ms;
  auto pool = make(options);
  auto a = pool.checkout();
  auto b = pool.checkout();
  try {
    (void)pool.checkout();
    FAIL() << "expected PoolTimeoutError";
  } catch (const PoolTimeoutError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("fake pool (fake:1)"), std::string::npos) << message;
    EXPECT_NE(message.find("pool size 2 (FAKE_MAX)"), std::string::npos) << message;
    EXPECT_NE(message.find("2 in use, 0 idle"), std::string::npos) << message;
    EXPECT_NE(message.find("waiting"), std::string::npos) << message;
    EXPECT_NE(message.find("timed out after"), std::string::npos) << message;
    EXPECT_NE(message.find("The pool is exhausted"), std::string::npos) << message;
    EXPECT_NE(message.find("raise FAKE_MAX"), std::string::npos) << message;
    EXPECT_NE(message.find("hold connections for less time"), std::string::npos) << message;
    EXPECT_EQ(message.find("connection error"), std::string::npos) << message;
    EXPECT_EQ(error.code(), ErrorCode::pool_timeout);
    EXPECT_TRUE(error.retryable());
  }
  const auto stats = pool.stats();
  EXPECT_EQ(stats.failures_by(CheckOutFailure::timeout), 1u);
  EXPECT_EQ(stats.waited, 1u);
  EXPECT_EQ(stats.waiting, 0u);
}

// The message of a check-out that timed out (empty if it did not).
std::string timeout_message(FakePool& pool, std::chrono::milliseconds timeout) {
  try {
    (void)pool.checkout(timeout);
  } catch (const PoolTimeoutError& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected PoolTimeoutError";
  return {};
}

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST_F(PoolFixture, TimeoutBehindSlowConnectsBlamesTheConnectingLimitNotTheSize) {
  auto options = small_pool(4);
  options.max_connecting = 1;
  options.min_size_setting = "FAKE_MIN";
  auto pool = make(options);
  server->open_delay_ms = 1500;  // far longer than the caller below waits
  std::thread opener([&] { auto lease = pool.checkout(); });
  ASSERT_TRUE(eventually([&] { return pool.stats().connecting == 1; }));
  const std::string message = timeout_message(pool, 100ms);
  EXPECT_TRUE(has(message, "0 in use, 0 idle, 1 connecting")) << message;
  EXPECT_TRUE(has(message, "behind the connections being opened (at most 1 at once)")) << message;
  EXPECT_TRUE(has(message, "slow to accept connections")) << message;
  EXPECT_TRUE(has(message, "connect latency")) << message;
  EXPECT_TRUE(has(message, "keep connections warm with FAKE_MIN")) << message;
  EXPECT_TRUE(has(message, "raising FAKE_MAX would not help")) << message;
  EXPECT_FALSE(has(message, "exhausted")) << message;
  opener.join();
}

TEST_F(PoolFixture, TimeoutAfterFailedConnectsBlamesTheServerWithItsLastError) {
  auto options = small_pool(4);
  options.max_connecting = 1;
  auto pool = make(options);
  server->refuse = true;
  server->open_delay_ms = 600;  // each connect fails after this long
  // `first` opens and fails at ~600 ms; `second`, queued next, then opens until ~1200 ms. The
  // caller, queued third, times out in between: after a failure, before its own turn to open.
  const auto attempt = [&] {
    try {
      auto lease = pool.checkout();
    } catch (const ConnectError&) {
    }
  };
  std::thread first(attempt);
  ASSERT_TRUE(eventually([&] { return pool.stats().connecting == 1; }));
  std::thread second(attempt);
  ASSERT_TRUE(eventually([&] { return pool.stats().waiting == 1; }));
  const std::string message = timeout_message(pool, 900ms);
  EXPECT_TRUE(has(message, "New connections are failing")) << message;
  EXPECT_TRUE(has(message, "unreachable or refusing them")) << message;
  EXPECT_TRUE(has(message, "Last connection error: fake server refused the connection")) << message;
  EXPECT_FALSE(has(message, "exhausted")) << message;
  first.join();
  second.join();
}

TEST_F(PoolFixture, AnOldConnectFailureIsNotBlamedForALaterExhaustion) {
  auto pool = make(small_pool(1));
  server->refuse = true;
  EXPECT_THROW((void)pool.checkout(), ConnectError);
  server->refuse = false;
  auto held = pool.checkout();
  const std::string message = timeout_message(pool, 30ms);
  EXPECT_TRUE(has(message, "The pool is exhausted")) << message;
  EXPECT_FALSE(has(message, "connection error")) << message;
}

TEST_F(PoolFixture, TimeoutMessageCountsTheOtherWaiters) {
  auto options = small_pool(1);
  auto pool = make(options);
  auto held = pool.checkout();
  std::thread patient([&] {
    try {
      auto lease = pool.checkout(2s);
    } catch (const PoolTimeoutError&) {
    }
  });
  ASSERT_TRUE(eventually([&] { return pool.stats().waiting == 1; }));
  try {
    (void)pool.checkout(20ms);
    FAIL() << "expected PoolTimeoutError";
  } catch (const PoolTimeoutError& error) {
    EXPECT_NE(
        std::string(error.what()).find("1 in use, 0 idle, 0 connecting, 1 other callers waiting"),
        std::string::npos)
        << error.what();
  }
  held.release();
  patient.join();
}

// Queues five callers one after the other, then frees the only connection: they must get it
// in the order they came.
std::vector<int> order_of_service(FakePool& pool) {
  auto held = pool.checkout();
  std::mutex order_mutex;
  std::vector<int> order;
  std::vector<std::thread> waiters;
  for (int id = 0; id < 5; ++id) {
    waiters.emplace_back([&, id] {
      auto lease = pool.checkout();
      std::lock_guard lock(order_mutex);
      order.push_back(id);
    });
    // Each waiter is queued before the next one starts.
    EXPECT_TRUE(eventually([&] { return pool.stats().waiting == static_cast<size_t>(id + 1); }));
  }
  held.release();
  for (auto& t : waiters) t.join();
  return order;
}

TEST_F(PoolFixture, WaitersAreServedOldestFirst) {
  auto pool = make(small_pool(1));
  EXPECT_EQ(order_of_service(pool), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(PoolFixture, WaitersAreServedOldestFirstWithoutStrictFifoToo) {
  auto options = small_pool(1);
  options.strict_fifo = false;
  auto pool = make(options);
  EXPECT_EQ(order_of_service(pool), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST_F(PoolFixture, NewcomerNeverOvertakesAWaiter) {
  auto pool = make(small_pool(1));
  auto held = pool.checkout();
  std::atomic<bool> waiter_got_it{false};
  std::thread waiter([&] {
    auto lease = pool.checkout();
    waiter_got_it = true;
    std::this_thread::sleep_for(20ms);
  });
  ASSERT_TRUE(eventually([&] { return pool.stats().waiting == 1; }));
  held.release();
  auto mine = pool.checkout();  // queued behind the waiter even though we just returned one
  EXPECT_TRUE(waiter_got_it.load());
  waiter.join();
}

TEST_F(PoolFixture, ClearMakesIdleConnectionsStaleAndTheyAreClosed) {
  auto pool = make(small_pool());
  const int old_serial = use_once(pool);
  pool.clear();
  auto lease = pool.checkout();
  EXPECT_NE(lease->serial, old_serial);
  EXPECT_TRUE(eventually([&] { return listener->closed_with(CloseReason::stale) == 1; }));
  EXPECT_EQ(pool.stats().generation, 1u);
}

TEST_F(PoolFixture, ConnectionInUseDuringClearIsClosedWhenReturned) {
  auto pool = make(small_pool());
  auto lease = pool.checkout();
  pool.clear();
  EXPECT_EQ(server->closed, 0);
  lease.release();
  EXPECT_EQ(server->closed, 1);
  EXPECT_EQ(listener->closed_with(CloseReason::stale), 1);
}

TEST_F(PoolFixture, PausingClearFailsWaitersAndRejectsUntilReady) {
  auto pool = make(small_pool(1));
  auto held = pool.checkout();
  const auto waiter_error = error_of_waiter_after(pool, [&] { pool.clear(ClearMode::pause); });
  EXPECT_EQ(waiter_error, ErrorCode::pool_cleared);
  EXPECT_THROW((void)pool.checkout(), PoolClearedError);
  EXPECT_EQ(pool.stats().state, PoolState::paused);
  held.release();
  pool.ready();
  EXPECT_NO_THROW((void)pool.checkout());
}

TEST_F(PoolFixture, KeepReadyClearLeavesWaitersWaitingForAFreshConnection) {
  auto pool = make(small_pool(1));
  auto held = pool.checkout();
  const int stale_serial = held->serial;
  std::optional<int> waiter_serial;
  std::thread waiter([&] { waiter_serial = pool.checkout()->serial; });
  ASSERT_TRUE(eventually([&] { return pool.stats().waiting == 1; }));
  pool.clear(ClearMode::keep_ready);
  EXPECT_EQ(pool.stats().state, PoolState::ready);
  held.release();  // stale: closed, and the waiter gets a new connection
  waiter.join();
  ASSERT_TRUE(waiter_serial.has_value());
  EXPECT_NE(*waiter_serial, stale_serial);
}

TEST_F(PoolFixture, InterruptingClearPausesAndSaysSoInTheEvent) {
  auto pool = make(small_pool(1));
  pool.clear(ClearMode::pause);
  pool.ready();
  pool.clear(ClearMode::pause_and_interrupt_in_use);
  EXPECT_EQ(pool.stats().state, PoolState::paused);
  std::vector<bool> interrupts;
  for (const auto& e : listener->events())
    if (e.type == PoolEventType::pool_cleared) interrupts.push_back(e.interrupt_in_use);
  EXPECT_EQ(interrupts, (std::vector<bool>{false, true}));
}

TEST_F(PoolFixture, CloseClosesIdleConnectionsAndRejectsCheckouts) {
  auto pool = make(small_pool());
  {
    auto a = pool.checkout();
    auto b = pool.checkout();
  }
  pool.close();
  EXPECT_EQ(server->closed, 2);
  EXPECT_EQ(listener->closed_with(CloseReason::pool_closed), 2);
  EXPECT_THROW((void)pool.checkout(), PoolClosedError);
  pool.close();  // idempotent
  EXPECT_EQ(listener->count(PoolEventType::pool_closed), 1);
}

TEST_F(PoolFixture, CloseWakesWaitersWithPoolClosedError) {
  auto pool = make(small_pool(1));
  auto held = pool.checkout();
  const auto waiter_error = error_of_waiter_after(pool, [&] { pool.close(); });
  EXPECT_EQ(waiter_error, ErrorCode::pool_closed);
  held.release();
  EXPECT_EQ(server->live(), 0);
}

TEST_F(PoolFixture, LeaseOutlivingItsPoolIsClosedWhenReturned) {
  std::optional<FakePool> pool(make(small_pool()));
  auto lease = pool->checkout();
  pool.reset();  // the owner goes away while the lease is out
  EXPECT_EQ(lease->serial, 1);
  EXPECT_EQ(server->live(), 1);
  lease.release();
  EXPECT_EQ(server->live(), 0);
}

TEST_F(PoolFixture, MinimumIsOpenedInTheBackgroundBeforeAnyCheckout) {
  auto options = small_pool(8);
  options.min_size = 3;
  auto pool = make(options);
  ASSERT_TRUE(eventually([&] { return pool.stats().idle == 3; }));
  EXPECT_EQ(server->opened, 3);
  EXPECT_EQ(pool.stats().checkouts, 0u);
}

TEST_F(PoolFixture, MinimumIsRefilledAfterConnectionsAreClosed) {
  auto options = small_pool(8);
  options.min_size = 2;
  auto pool = make(options);
  ASSERT_TRUE(eventually([&] { return pool.stats().idle == 2; }));
  pool.clear();  // both become stale and are replaced
  ASSERT_TRUE(eventually([&] { return server->closed == 2 && pool.stats().idle == 2; }));
  EXPECT_EQ(server->opened, 4);
}

TEST_F(PoolFixture, NoMoreThanMaxConnectingAreOpenedAtOnce) {
  auto options = small_pool(8);
  options.max_connecting = 2;
  auto pool = make(options);
  server->open_delay_ms = 30;
  std::vector<std::thread> threads;
  std::latch hold(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto lease = pool.checkout();
      hold.count_down();
      hold.wait();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(server->opened, 8);
  EXPECT_LE(server->max_open_now.load(), 2);
}

TEST_F(PoolFixture, IdleConnectionPastMaxIdleTimeIsClosedByTheReaperAndNeverHandedOut) {
  auto options = small_pool();
  options.max_idle_time = 50ms;
  auto pool = make(options);
  const int old_serial = use_once(pool);
  // The close event is sent before the slot is counted free, so wait for both.
  ASSERT_TRUE(eventually(
      [&] { return listener->closed_with(CloseReason::idle) == 1 && pool.stats().total == 0; }));
  auto lease = pool.checkout();
  EXPECT_NE(lease->serial, old_serial);
}

TEST_F(PoolFixture, IdleConnectionPastMaxIdleTimeIsNotHandedOutEvenWithoutTheReaper) {
  auto options = small_pool();
  options.max_idle_time = 10ms;
  options.background_interval = -1ms;
  auto pool = make(options);
  const int old_serial = use_once(pool);
  std::this_thread::sleep_for(60ms);
  auto lease = pool.checkout();
  EXPECT_NE(lease->serial, old_serial);
  EXPECT_EQ(listener->closed_with(CloseReason::idle), 1);
}

TEST_F(PoolFixture, IdleReapingKeepsTheWarmMinimum) {
  auto options = small_pool(8);
  options.min_size = 2;
  options.max_idle_time = 30ms;
  auto pool = make(options);
  ASSERT_TRUE(eventually([&] { return pool.stats().idle == 2; }));  // the warm minimum is up
  {
    std::vector<FakePool::LeaseType> leases;
    for (int i = 0; i < 5; ++i) leases.push_back(pool.checkout());
  }
  ASSERT_TRUE(eventually([&] { return pool.stats().total == 2; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(pool.stats().total, 2u);
  EXPECT_EQ(listener->closed_with(CloseReason::idle), 3);
  EXPECT_EQ(pool.stats().created, 5u);
}

TEST_F(PoolFixture, ConnectionPastItsLifetimeIsClosedNotReused) {
  auto options = small_pool();
  options.max_lifetime = 40ms;
  options.max_lifetime_jitter = 0.0;
  options.background_interval = -1ms;
  auto pool = make(options);
  const int old_serial = use_once(pool);
  std::this_thread::sleep_for(80ms);
  auto lease = pool.checkout();
  EXPECT_NE(lease->serial, old_serial);
  EXPECT_EQ(listener->closed_with(CloseReason::expired), 1);
}

TEST_F(PoolFixture, LifetimeJitterSpreadsExpiries) {
  auto options = small_pool(20);
  options.max_lifetime = 2000ms;
  options.max_lifetime_jitter = 0.9;  // lifetimes spread over (200 ms, 2000 ms]
  options.background_interval = 10ms;
  auto pool = make(options);
  {
    std::vector<FakePool::LeaseType> leases;
    for (int i = 0; i < 20; ++i) leases.push_back(pool.checkout());
  }
  std::this_thread::sleep_for(1100ms);
  const int expired = listener->closed_with(CloseReason::expired);
  EXPECT_GT(expired, 0) << "no connection expired early: no jitter";
  EXPECT_LT(expired, 20) << "all expired together: no jitter";
}

TEST_F(PoolFixture, ConnectionIdleLongerThanTheIntervalIsCheckedBeforeReuse) {
  auto options = small_pool();
  options.health_check_interval = 30ms;
  auto pool = make(options);
  { auto lease = pool.checkout(); }
  { auto lease = pool.checkout(); }  // used just now: no check
  EXPECT_EQ(server->checks, 0);
  std::this_thread::sleep_for(60ms);
  { auto lease = pool.checkout(); }
  EXPECT_EQ(server->checks, 1);
  EXPECT_EQ(server->opened, 1);
  EXPECT_EQ(pool.stats().health_checks, 1u);
}

TEST_F(PoolFixture, ConnectionFailingItsHealthCheckIsReplacedTransparently) {
  auto options = small_pool();
  options.health_check_interval = 20ms;
  auto pool = make(options);
  { auto lease = pool.checkout(); }
  server->healthy = false;
  std::this_thread::sleep_for(50ms);
  auto lease = pool.checkout();
  EXPECT_EQ(lease->serial, 2);
  EXPECT_EQ(pool.stats().health_check_failures, 1u);
  EXPECT_EQ(listener->closed_with(CloseReason::error), 1);
}

TEST_F(PoolFixture, LeaseHeldPastTheThresholdIsReportedOnce) {
  auto options = small_pool();
  options.leak_threshold = 30ms;
  options.background_interval = 10ms;
  auto pool = make(options);
  auto lease = pool.checkout();
  ASSERT_TRUE(eventually([&] { return pool.stats().leaks_detected == 1; }));
  std::this_thread::sleep_for(80ms);
  EXPECT_EQ(pool.stats().leaks_detected, 1u);
  const auto events = listener->events();
  const auto leak = std::find_if(events.begin(), events.end(), [](const PoolEvent& e) {
    return e.type == PoolEventType::lease_leaked;
  });
  ASSERT_NE(leak, events.end());
  EXPECT_EQ(leak->connection_id, lease.connection_id());
  EXPECT_GE(leak->duration, 30ms);
}

TEST_F(PoolFixture, FailedOpenIsATypedErrorAndFreesItsPlace) {
  auto options = small_pool(1);
  auto pool = make(options);
  server->refuse = true;
  EXPECT_THROW((void)pool.checkout(), ConnectError);
  const auto stats = pool.stats();
  EXPECT_EQ(stats.total, 0u);
  EXPECT_EQ(stats.failures_by(CheckOutFailure::connection_error), 1u);
  server->refuse = false;
  EXPECT_NO_THROW((void)pool.checkout());
}

TEST_F(PoolFixture, ConnectorErrorTypeReachesTheCaller) {
  auto pool = make(small_pool());
  server->open_times_out = true;
  try {
    (void)pool.checkout();
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& error) {
    EXPECT_EQ(error.code(), ErrorCode::timeout);
  }
  EXPECT_EQ(pool.stats().total, 0u);
}

TEST_F(PoolFixture, ForeignConnectorErrorBecomesAConnectErrorNamingThePool) {
  auto pool = make(small_pool());
  server->open_throws_std = true;
  try {
    (void)pool.checkout();
    FAIL() << "expected ConnectError";
  } catch (const ConnectError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("fake pool (fake:1)"), std::string::npos) << message;
    EXPECT_NE(message.find("fake driver blew up"), std::string::npos) << message;
  }
}

TEST_F(PoolFixture, ZeroWaitTimeoutFailsAtOnceWhenExhausted) {
  auto pool = make(small_pool(1));
  auto held = pool.checkout();
  EXPECT_THROW((void)pool.checkout(0ms), PoolTimeoutError);
  held.release();
  EXPECT_NO_THROW((void)pool.checkout(0ms));  // an idle connection needs no wait
}

TEST_F(PoolFixture, CloseWhileAConnectionIsOpeningFailsItsCallerAndClosesIt) {
  auto pool = make(small_pool());
  server->open_delay_ms = 100;
  std::optional<ErrorCode> opener_error;
  std::thread opener([&] {
    try {
      auto lease = pool.checkout();
    } catch (const Error& error) {
      opener_error = error.code();
    }
  });
  ASSERT_TRUE(eventually([&] { return server->open_now.load() == 1; }));
  pool.close();
  opener.join();
  EXPECT_EQ(opener_error, ErrorCode::pool_closed);
  EXPECT_EQ(server->live(), 0);
}

TEST_F(PoolFixture, ConnectionOpenedAcrossAClearIsStale) {
  auto pool = make(small_pool());
  server->open_delay_ms = 100;
  std::thread opener([&] { auto lease = pool.checkout(); });
  ASSERT_TRUE(eventually([&] { return server->open_now.load() == 1; }));
  pool.clear();
  opener.join();  // it got the connection, and returned it
  EXPECT_EQ(listener->closed_with(CloseReason::stale), 1);
  EXPECT_EQ(pool.stats().total, 0u);
}

TEST_F(PoolFixture, HealthCheckThatThrowsCountsAsFailed) {
  auto options = small_pool();
  options.health_check_interval = 20ms;
  auto pool = make(options);
  { auto lease = pool.checkout(); }
  server->check_throws = true;
  std::this_thread::sleep_for(50ms);
  auto lease = pool.checkout();
  EXPECT_EQ(lease->serial, 2);
  EXPECT_EQ(pool.stats().health_check_failures, 1u);
}

TEST_F(PoolFixture, EventsFollowTheCmapSequence) {
  auto pool = make(small_pool());
  { auto lease = pool.checkout(); }
  std::vector<std::string_view> names;
  for (const auto& e : listener->events()) names.push_back(cmap_name(e.type));
  EXPECT_EQ(names, (std::vector<std::string_view>{
                       "ConnectionPoolCreated", "ConnectionCheckOutStarted", "ConnectionCreated",
                       "ConnectionReady", "ConnectionCheckedOut", "ConnectionCheckedIn"}));
}

TEST_F(PoolFixture, StatsCountInUseIdleAndWaiting) {
  auto pool = make(small_pool(2));
  auto a = pool.checkout();
  { auto b = pool.checkout(); }
  std::thread waiter1([&] {
    auto c = pool.checkout();
    auto d = pool.checkout();
  });
  ASSERT_TRUE(eventually([&] { return pool.stats().waiting == 1; }));
  auto stats = pool.stats();
  EXPECT_EQ(stats.in_use, 2u);
  EXPECT_EQ(stats.idle, 0u);
  EXPECT_EQ(stats.total, 2u);
  EXPECT_EQ(stats.state, PoolState::ready);
  a.release();
  waiter1.join();
  stats = pool.stats();
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(stats.idle, 2u);
  EXPECT_EQ(stats.created, 2u);
  EXPECT_EQ(stats.checkouts, 4u);
}

TEST_F(PoolFixture, InvalidOptionsAreAConfigError) {
  auto options = small_pool(2);
  options.min_size = 3;
  EXPECT_THROW(make(options), ConfigError);
  options = small_pool(0);
  EXPECT_THROW(make(options), ConfigError);
}

// Many threads, few connections: every lease is held by exactly one thread at a time, and
// every lease comes back.
void stress(PoolFixture& fixture, bool strict_fifo) {
  constexpr int kThreads = 16;
  constexpr int kIterations = 2000;
  auto options = small_pool(4);
  options.strict_fifo = strict_fifo;
  auto& server = fixture.server;
  options.max_idle_time = 5ms;  // reaping races with check-outs too
  options.background_interval = 1ms;
  auto pool = fixture.make(options);
  std::array<std::atomic<int>, 64> holders{};
  std::atomic<int> violations{0};
  std::atomic<long> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIterations; ++i) {
        auto lease = pool.checkout(10s);
        auto& holder = holders[static_cast<size_t>(lease->serial) % holders.size()];
        if (holder.fetch_add(1) != 0) ++violations;
        if ((i + t) % 7 == 0) std::this_thread::yield();
        if ((i * 31 + t) % 997 == 0) lease.mark_broken();
        holder.fetch_sub(1);
        ++done;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(done.load(), long{kThreads} * kIterations);
  const auto stats = pool.stats();
  EXPECT_EQ(stats.in_use, 0u);
  EXPECT_EQ(stats.waiting, 0u);
  EXPECT_EQ(stats.checkouts, static_cast<std::uint64_t>(kThreads) * kIterations);
  EXPECT_LE(stats.total, 4u);
  EXPECT_EQ(static_cast<std::uint64_t>(server->opened.load()), stats.created);
  EXPECT_EQ(static_cast<std::uint64_t>(server->closed.load()), stats.closed_total());
  EXPECT_EQ(server->live(), static_cast<int>(stats.total));
}

TEST_F(PoolFixture, StressNoLeaseIsLostOrHandedOutTwice) {
  stress(*this, true);
}

TEST_F(PoolFixture, StressNoLeaseIsLostOrHandedOutTwiceWithoutStrictFifo) {
  stress(*this, false);
}

}  // namespace
}  // namespace poolkit
