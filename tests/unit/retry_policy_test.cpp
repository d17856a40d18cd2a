#include "poolkit/retry_policy.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using poolkit::AttemptFailure;
using poolkit::AttemptOutcome;
using poolkit::RetryPolicy;

namespace {

AttemptOutcome status(std::string_view method, int code) {
  AttemptOutcome outcome;
  outcome.method = method;
  outcome.status = code;
  return outcome;
}

AttemptOutcome failure(std::string_view method, AttemptFailure kind) {
  AttemptOutcome outcome;
  outcome.method = method;
  outcome.failure = kind;
  return outcome;
}

RetryPolicy resilience(int attempts) {
  return RetryPolicy::resilience(attempts, poolkit::Backoff{.base = 250ms, .cap = 8000ms}, 30s);
}

}  // namespace

TEST(Urllib3Retry, RetriesTheListedStatusesForTheListedMethods) {
  const auto policy = RetryPolicy::urllib3(2, 200ms, 30s);
  for (int code : {500, 502, 503, 504}) {
    for (auto method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      EXPECT_TRUE(policy.decide(status(method, code), 0).retry) << method << " " << code;
    }
  }
  EXPECT_FALSE(policy.decide(status("GET", 501), 0).retry);
  EXPECT_FALSE(policy.decide(status("GET", 429), 0).retry);
  EXPECT_FALSE(policy.decide(status("HEAD", 503), 0).retry);
  EXPECT_FALSE(policy.decide(status("GET", 200), 0).retry);
}

TEST(Urllib3Retry, SleepsZeroThenTwiceThenFourTimesTheFactor) {
  const auto policy = RetryPolicy::urllib3(4, 200ms, 30s);
  EXPECT_EQ(policy.decide(status("GET", 503), 0).delay, 0ms);
  EXPECT_EQ(policy.decide(status("GET", 503), 1).delay, 400ms);
  EXPECT_EQ(policy.decide(status("GET", 503), 2).delay, 800ms);
  EXPECT_EQ(policy.decide(status("GET", 503), 3).delay, 1600ms);
}

TEST(Urllib3Retry, StopsAfterTheConfiguredRetries) {
  const auto policy = RetryPolicy::urllib3(2, 0ms, 30s);
  EXPECT_TRUE(policy.decide(status("GET", 503), 1).retry);
  EXPECT_FALSE(policy.decide(status("GET", 503), 2).retry);
  EXPECT_FALSE(policy.raises_when_exhausted());
}

TEST(Urllib3Retry, RetryAfterReplacesTheBackoffAndIsCapped) {
  const auto policy = RetryPolicy::urllib3(3, 200ms, 5s);
  auto outcome = status("GET", 503);
  outcome.retry_after = 1s;
  EXPECT_EQ(policy.decide(outcome, 1).delay, 1s);
  outcome.retry_after = 60s;
  EXPECT_EQ(policy.decide(outcome, 1).delay, 5s);
  outcome = status("GET", 500);
  outcome.retry_after = 1s;
  EXPECT_EQ(policy.decide(outcome, 1).delay, 400ms) << "Retry-After counts on 413/429/503 only";
}

TEST(Urllib3Retry, ConnectErrorsForAnyMethodButNotTimeoutsOrBrokenConnections) {
  const auto policy = RetryPolicy::urllib3(2, 0ms, 30s);
  EXPECT_TRUE(policy.decide(failure("POST", AttemptFailure::connect), 0).retry);
  EXPECT_TRUE(policy.decide(failure("HEAD", AttemptFailure::connect), 0).retry);
  EXPECT_FALSE(policy.decide(failure("GET", AttemptFailure::timeout), 0).retry);
  EXPECT_FALSE(policy.decide(failure("GET", AttemptFailure::broken), 0).retry);
}

TEST(ResilienceRetry, RetriesServerErrorsAnd429ForIdempotentMethods) {
  const auto policy = resilience(3);
  EXPECT_TRUE(policy.decide(status("GET", 503), 0).retry);
  EXPECT_TRUE(policy.decide(status("PUT", 500), 0).retry);
  EXPECT_TRUE(policy.decide(status("GET", 429), 0).retry);
  EXPECT_FALSE(policy.decide(status("GET", 404), 0).retry);
  EXPECT_FALSE(policy.decide(status("POST", 503), 0).retry);
  auto opted_in = status("POST", 503);
  opted_in.non_idempotent_opt_in = true;
  EXPECT_TRUE(policy.decide(opted_in, 0).retry);
  EXPECT_TRUE(policy.decide(failure("POST", AttemptFailure::connect), 0).retry);
}

TEST(ResilienceRetry, MaxAttemptsCountsTheFirstAttemptAndRaisesAfterTheLast) {
  const auto policy = resilience(3);
  EXPECT_EQ(policy.max_retries(), 2);
  EXPECT_TRUE(policy.decide(status("GET", 503), 1).retry);
  EXPECT_FALSE(policy.decide(status("GET", 503), 2).retry);
  EXPECT_TRUE(policy.raises_when_exhausted());
  EXPECT_FALSE(resilience(1).decide(status("GET", 503), 0).retry);
}

TEST(ResilienceRetry, BacksOffExponentiallyWithJitterAndHonoursALongerRetryAfter) {
  const auto policy = RetryPolicy::resilience(
      10, poolkit::Backoff{.base = 250ms, .cap = 1000ms, .jitter = 100ms}, 30s);
  for (int i = 0; i < 50; ++i) {
    const auto first = policy.decide(status("GET", 503), 0).delay;
    EXPECT_GE(first, 250ms);
    EXPECT_LE(first, 350ms);
    const auto capped = policy.decide(status("GET", 503), 6).delay;
    EXPECT_GE(capped, 1000ms);
    EXPECT_LE(capped, 1100ms);
  }
  auto outcome = status("GET", 429);
  outcome.retry_after = 5s;
  EXPECT_EQ(policy.decide(outcome, 0).delay, 5s);
}

TEST(ResilienceRetry, APerRequestOverrideChangesOnlyTheCount) {
  const auto policy = resilience(3).with_max_retries(0);
  EXPECT_FALSE(policy.decide(status("GET", 503), 0).retry);
  EXPECT_EQ(resilience(3).with_max_retries(-4).max_retries(), 0);
}

TEST(RetryWithinDeadline, AWaitShorterThanWhatIsLeftIsMade) {
  const auto policy = RetryPolicy::urllib3(3, 1000ms, 30s);
  const auto verdict = policy.decide(status("GET", 503), 1, 2500ms);  // waits 2 s
  EXPECT_TRUE(verdict.retry);
  EXPECT_FALSE(verdict.past_deadline);
  EXPECT_EQ(verdict.delay, 2000ms);
  EXPECT_FALSE(verdict.from_retry_after);
}

TEST(RetryWithinDeadline, ABackoffThatWouldEndAtOrPastTheDeadlineIsNotMade) {
  const auto policy = RetryPolicy::urllib3(3, 1000ms, 30s);
  for (const auto left : {2000ms, 1999ms, 0ms, -5ms}) {
    const auto verdict = policy.decide(status("GET", 503), 1, left);
    EXPECT_FALSE(verdict.retry) << left.count();
    EXPECT_TRUE(verdict.past_deadline) << left.count();
    EXPECT_EQ(verdict.delay, 2000ms) << "the wait it would have had, for the message";
  }
  EXPECT_FALSE(policy.decide(status("GET", 503), 0, 0ms).retry)
      << "even an immediate retry needs time left to run";
}

TEST(RetryWithinDeadline, ARetryAfterPastTheDeadlineIsNotWaitedFor) {
  const auto policy = RetryPolicy::resilience(3, poolkit::Backoff{.base = 10ms, .cap = 10ms}, 30s);
  auto outcome = status("GET", 503);
  outcome.retry_after = 3s;
  const auto verdict = policy.decide(outcome, 0, 2000ms);
  EXPECT_FALSE(verdict.retry);
  EXPECT_TRUE(verdict.past_deadline);
  EXPECT_TRUE(verdict.from_retry_after);
  EXPECT_EQ(verdict.delay, 3s);
  outcome.retry_after = 24h;  // capped at 30 s, still past a 5 s deadline
  EXPECT_TRUE(policy.decide(outcome, 0, 5000ms).past_deadline);
  EXPECT_EQ(policy.decide(outcome, 0, 5000ms).delay, 30s);
  EXPECT_TRUE(policy.decide(outcome, 0, 31s).retry) << "with time left, the capped wait is made";
}

TEST(RetryWithinDeadline, NothingToSkipWhenThePolicyWouldNotRetry) {
  const auto policy = RetryPolicy::urllib3(2, 1000ms, 30s);
  EXPECT_FALSE(policy.decide(status("GET", 404), 0, 0ms).past_deadline);
  EXPECT_FALSE(policy.decide(status("GET", 503), 2, 0ms).past_deadline) << "retries used up";
}

TEST(Urllib3Retry, A413Or429IsRetriedOnlyWhenItCarriesRetryAfter) {
  const auto policy = RetryPolicy::urllib3(2, 200ms, 30s);
  for (int code : {413, 429}) {
    auto outcome = status("GET", code);
    EXPECT_FALSE(policy.decide(outcome, 0).retry) << code;
    outcome.retry_after = 1s;
    const auto verdict = policy.decide(outcome, 0);
    EXPECT_TRUE(verdict.retry) << code;
    EXPECT_EQ(verdict.delay, 1s);
    EXPECT_TRUE(verdict.from_retry_after);
  }
  auto head = status("HEAD", 429);
  head.retry_after = 1s;
  EXPECT_FALSE(policy.decide(head, 0).retry) << "only the listed methods";
}
