#include "poolkit/circuit_breaker.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using poolkit::CircuitBreaker;
using poolkit::CircuitState;

namespace {

// A clock the test steps by hand.
struct ManualClock {
  std::chrono::steady_clock::time_point now{std::chrono::steady_clock::time_point() + 1h};
  poolkit::SteadyClock function() {
    return [this] { return now; };
  }
};

poolkit::CircuitBreakerOptions options(int threshold, std::chrono::milliseconds recovery,
                                       int half_open_success) {
  return {threshold, recovery, half_open_success};
}

void fail_times(CircuitBreaker& breaker, int times) {
  for (int i = 0; i < times; ++i) {
    ASSERT_TRUE(breaker.allow());
    breaker.record_failure();
  }
}

}  // namespace

TEST(CircuitBreaker, OpensAfterTheThresholdOfConsecutiveFailures) {
  ManualClock clock;
  CircuitBreaker breaker(options(3, 30s, 1), clock.function());
  fail_times(breaker, 2);
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  fail_times(breaker, 1);
  EXPECT_EQ(breaker.state(), CircuitState::open);
  EXPECT_FALSE(breaker.allow());
  EXPECT_EQ(breaker.retry_in(), 30s);
  EXPECT_EQ(breaker.times_opened(), 1u);
}

TEST(CircuitBreaker, ASuccessResetsTheFailureCount) {
  ManualClock clock;
  CircuitBreaker breaker(options(3, 30s, 1), clock.function());
  fail_times(breaker, 2);
  ASSERT_TRUE(breaker.allow());
  breaker.record_success();
  fail_times(breaker, 2);
  EXPECT_EQ(breaker.state(), CircuitState::closed);
}

TEST(CircuitBreaker, HalfOpensAfterRecoveryAndLetsOnlyTheProbesThrough) {
  ManualClock clock;
  CircuitBreaker breaker(options(1, 10s, 2), clock.function());
  fail_times(breaker, 1);
  clock.now += 9s;
  EXPECT_FALSE(breaker.allow());
  EXPECT_EQ(breaker.retry_in(), 1s);
  clock.now += 1s;
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
  EXPECT_TRUE(breaker.allow());
  EXPECT_TRUE(breaker.allow());
  EXPECT_FALSE(breaker.allow()) << "only half_open_success probes at once";
}

TEST(CircuitBreaker, ClosesAfterEnoughSuccessfulProbes) {
  ManualClock clock;
  CircuitBreaker breaker(options(1, 10s, 2), clock.function());
  fail_times(breaker, 1);
  clock.now += 10s;
  ASSERT_TRUE(breaker.allow());
  breaker.record_success();
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
  ASSERT_TRUE(breaker.allow());
  breaker.record_success();
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  EXPECT_TRUE(breaker.allow());
}

TEST(CircuitBreaker, AFailedProbeOpensItAgainForAFullRecoveryPeriod) {
  ManualClock clock;
  CircuitBreaker breaker(options(2, 10s, 1), clock.function());
  fail_times(breaker, 2);
  clock.now += 10s;
  ASSERT_TRUE(breaker.allow());
  breaker.record_failure();
  EXPECT_EQ(breaker.state(), CircuitState::open);
  EXPECT_EQ(breaker.retry_in(), 10s);
  EXPECT_EQ(breaker.times_opened(), 2u);
}

TEST(CircuitBreaker, ACancelledProbeGivesItsPlaceBack) {
  ManualClock clock;
  CircuitBreaker breaker(options(1, 1s, 1), clock.function());
  fail_times(breaker, 1);
  clock.now += 1s;
  ASSERT_TRUE(breaker.allow());
  EXPECT_FALSE(breaker.allow());
  breaker.record_cancelled();
  EXPECT_TRUE(breaker.allow());
}

TEST(CircuitBreaker, AThresholdOfZeroNeverOpens) {
  CircuitBreaker breaker(options(0, 1s, 1));
  for (int i = 0; i < 100; ++i) breaker.record_failure();
  EXPECT_TRUE(breaker.allow());
  EXPECT_EQ(breaker.state(), CircuitState::closed);
}

TEST(CircuitBreaker, CountsStayConsistentUnderConcurrentUse) {
  CircuitBreaker breaker(options(1000000, 1s, 1));
  std::vector<std::thread> threads;
  std::atomic<int> allowed{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        if (breaker.allow()) ++allowed;
        (i % 2 == 0) ? breaker.record_failure() : breaker.record_success();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(allowed.load(), 40000);
  EXPECT_EQ(breaker.state(), CircuitState::closed);
}

TEST(CircuitBreakers, OneBreakerPerKey) {
  ManualClock clock;
  poolkit::CircuitBreakers breakers(options(1, 5s, 1), clock.function());
  breakers.for_key("http://a:80").record_failure();
  EXPECT_EQ(&breakers.for_key("http://a:80"), &breakers.for_key("http://a:80"));
  EXPECT_FALSE(breakers.for_key("http://a:80").allow());
  EXPECT_TRUE(breakers.for_key("http://b:80").allow());
  const auto states = breakers.states();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states[0].second, CircuitState::open);
  EXPECT_EQ(states[1].second, CircuitState::closed);
}
