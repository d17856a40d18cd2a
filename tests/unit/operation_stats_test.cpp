#include "poolkit/operation_stats.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace std::chrono_literals;

TEST(OperationStats, CountsByNameAndOutcomeWithCumulativeBuckets) {
  poolkit::OperationStats stats;
  stats.record("GET", "ok", 50us);
  stats.record("GET", "ok", 2ms);
  stats.record("GET", "timeout", 3s);
  stats.record("SET", "ok", 10s);
  const auto snapshot = stats.snapshot();
  ASSERT_EQ(snapshot.size(), 3u);
  EXPECT_EQ(snapshot[0].name, "GET");
  EXPECT_EQ(snapshot[0].outcome, "ok");
  EXPECT_EQ(snapshot[0].count, 2u);
  EXPECT_EQ(snapshot[0].cumulative.front(), 1u);  // 50 us <= 100 us
  EXPECT_EQ(snapshot[0].cumulative[4], 2u);       // 2 ms <= 2.5 ms
  EXPECT_NEAR(snapshot[0].duration_sum_s, 0.00205, 1e-9);
  EXPECT_EQ(snapshot[1].outcome, "timeout");
  EXPECT_EQ(snapshot[2].cumulative[poolkit::kDurationBuckets.size() - 1], 0u);  // 10 s > 5 s
  EXPECT_EQ(snapshot[2].cumulative.back(), 1u);                                 // only +Inf
  EXPECT_EQ(stats.total(), 4u);
  EXPECT_EQ(stats.total("ok"), 3u);
}

TEST(OperationStats, ConcurrentRecordingLosesNothing) {
  poolkit::OperationStats stats;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&stats, t] {
      for (int i = 0; i < 5000; ++i)
        stats.record(i % 2 ? "GET" : "SET", t % 2 ? "ok" : "error", 1ms);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(stats.total(), 20000u);
  EXPECT_EQ(stats.snapshot().size(), 4u);
}
