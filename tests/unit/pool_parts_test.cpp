// The pool engine's parts that need no pool around them (src/core/pool/): the timeout advice,
// the wait histogram, and the wait queue's order.
#include <gtest/gtest.h>

#include <chrono>

#include "core/pool/pool_counters.hpp"
#include "core/pool/wait_queue.hpp"

namespace poolkit::detail {
namespace {

PoolOptions named_options() {
  PoolOptions options;
  options.name = "cache";
  options.size_setting = "CACHE_POOL_SIZE";
  options.min_size_setting = "CACHE_POOL_WARM";
  options.max_connecting = 3;
  return options;
}

TEST(PoolTimeoutAdvice, AFailingConnectBlamesTheServerAndShowsItsError) {
  const std::string advice =
      timeout_advice(named_options(), {.connect_error = "connection refused", .room_left = true});
  EXPECT_NE(advice.find("New connections are failing"), std::string::npos) << advice;
  EXPECT_NE(advice.find("connection refused"), std::string::npos) << advice;
  EXPECT_EQ(advice.find("raise"), std::string::npos) << "a larger pool would not help: " << advice;
}

TEST(PoolTimeoutAdvice, RoomLeftPointsAtTheConnectingLimitNotThePoolSize) {
  const std::string advice =
      timeout_advice(named_options(), {.connect_error = "", .room_left = true});
  EXPECT_NE(advice.find("at most 3 at once"), std::string::npos) << advice;
  EXPECT_NE(advice.find("CACHE_POOL_WARM"), std::string::npos) << advice;
  EXPECT_NE(advice.find("raising CACHE_POOL_SIZE would not help"), std::string::npos) << advice;
}

TEST(PoolTimeoutAdvice, AnExhaustedPoolNamesTheSizeSetting) {
  const std::string advice = timeout_advice(named_options(), {});
  EXPECT_NE(advice.find("exhausted"), std::string::npos) << advice;
  EXPECT_NE(advice.find("raise CACHE_POOL_SIZE"), std::string::npos) << advice;
}

TEST(PoolTimeoutAdvice, TheMessageNamesThePoolItsOccupationAndTheWait) {
  PoolStats now;
  now.in_use = 4;
  now.waiting = 2;
  const std::string message = timeout_message(named_options(), now, std::chrono::milliseconds(120),
                                              std::chrono::milliseconds(100), {});
  EXPECT_NE(message.find("cache pool"), std::string::npos) << message;
  EXPECT_NE(message.find("timed out after 120 ms"), std::string::npos) << message;
  EXPECT_NE(message.find("wait limit 100 ms"), std::string::npos) << message;
  EXPECT_NE(message.find("4 in use"), std::string::npos) << message;
  EXPECT_NE(message.find("2 other callers waiting"), std::string::npos) << message;
}

TEST(PoolCounters, WaitsLandInTheirHistogramBucketAndTheMaximumIsKept) {
  PoolCounters counters;
  counters.waited(std::chrono::microseconds(kWaitBucketBoundsUs.front()));     // on the bound
  counters.waited(std::chrono::microseconds(kWaitBucketBoundsUs.back() + 1));  // past the last
  PoolStats stats;
  counters.fill(stats);
  EXPECT_EQ(stats.waited, 2u);
  EXPECT_EQ(stats.wait_buckets.front(), 1u);
  EXPECT_EQ(stats.wait_buckets.back(), 1u);
  EXPECT_EQ(stats.wait_time_max_us, kWaitBucketBoundsUs.back() + 1);
}

TEST(WaitQueue, ServesOldestFirstAndARetryGoesToTheFront) {
  WaitQueue queue;
  Waiter first, second, retrying;
  queue.enqueue_locked(first, false);
  queue.enqueue_locked(second, false);
  queue.enqueue_locked(retrying, true);
  EXPECT_EQ(queue.waiting(), 3u);
  Wakeups wakeups;
  EXPECT_EQ(queue.oldest_locked(), &retrying);
  queue.grant_locked(retrying, Grant::connection, nullptr, wakeups);
  EXPECT_EQ(queue.oldest_locked(), &first);
  queue.fail_all_locked(Grant::closed, wakeups);
  EXPECT_EQ(queue.waiting(), 0u);
  EXPECT_EQ(queue.oldest_locked(), nullptr);
  EXPECT_EQ(first.grant, Grant::closed);
  EXPECT_EQ(second.grant, Grant::closed);
  EXPECT_EQ(retrying.grant, Grant::connection);
  wakeups.post_all();
  EXPECT_TRUE(first.signal.is_posted());
  EXPECT_TRUE(second.signal.is_posted());
  EXPECT_TRUE(retrying.signal.is_posted());
}

TEST(WaitQueue, ANudgedWaiterIsNotPostedTwice) {
  WaitQueue queue;
  Waiter only;
  queue.enqueue_locked(only, false);
  Wakeups nudges;
  queue.nudge_oldest_locked(nudges);
  queue.nudge_oldest_locked(nudges);  // already nudged: nothing more
  EXPECT_EQ(only.grant, Grant::look);
  Wakeups grants;
  queue.grant_locked(only, Grant::connection, nullptr, grants);
  grants.post_all();
  EXPECT_FALSE(only.signal.is_posted()) << "its nudge is the one post it gets";
  nudges.post_all();
  EXPECT_TRUE(only.signal.is_posted());
  EXPECT_EQ(only.grant, Grant::connection);
}

}  // namespace
}  // namespace poolkit::detail
