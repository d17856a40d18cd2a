#include "poolkit/backoff.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;

TEST(Backoff, DoublesFromTheBaseUpToTheCap) {
  const poolkit::Backoff backoff{.base = 8ms, .cap = 512ms};
  EXPECT_EQ(backoff.exponential(0), 0ms);
  EXPECT_EQ(backoff.exponential(1), 8ms);
  EXPECT_EQ(backoff.exponential(2), 16ms);
  EXPECT_EQ(backoff.exponential(7), 512ms);
  EXPECT_EQ(backoff.exponential(8), 512ms);
  EXPECT_EQ(backoff.exponential(1000), 512ms);
}

TEST(Backoff, JitterStaysWithinItsBoundsAndVaries) {
  const poolkit::Backoff backoff{.base = 250ms, .cap = 8000ms, .jitter = 500ms};
  bool varied = false;
  const auto first = backoff.delay(2);
  for (int i = 0; i < 200; ++i) {
    const auto wait = backoff.delay(2);
    EXPECT_GE(wait, 500ms);
    EXPECT_LE(wait, 1000ms);
    varied = varied || wait != first;
  }
  EXPECT_TRUE(varied);
}

TEST(Backoff, ProportionalJitterScalesWithTheWait) {
  const poolkit::Backoff backoff{.base = 100ms, .cap = 1000ms, .jitter_ratio = 0.5};
  for (int i = 0; i < 100; ++i) {
    const auto wait = backoff.delay(3);
    EXPECT_GE(wait, 400ms);
    EXPECT_LE(wait, 600ms);
  }
}

TEST(Backoff, NoWaitBeforeTheFirstAttempt) {
  const poolkit::Backoff backoff{.base = 100ms, .cap = 1000ms, .jitter = 50ms};
  EXPECT_EQ(backoff.delay(0), 0ms);
}
