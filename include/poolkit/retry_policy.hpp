#pragma once
// When to retry a failed HTTP attempt and how long to wait first. Two styles (docs/http.md,
// Retries):
//
// - urllib3 (the sync client, REQUESTS_RETRIES / REQUESTS_RETRY_BACKOFF): status 500, 502, 503,
//   504 for GET, POST, PUT, PATCH, DELETE, and connect errors for any method, up to `retries`
//   retries; sleeps 0, 2f, 4f, ... (f = backoff factor, at most 120 s); a Retry-After on 413,
//   429 or 503 replaces the sleep (capped), and makes a 413 or 429 retryable too, as in urllib3.
//   After the last retry the last response is returned.
// - resilience (the async client, HTTP_RESILIENCE_*): connect errors for any method, and 5xx or
//   429 for idempotent methods (GET, HEAD, OPTIONS, PUT, DELETE, TRACE; others only when the
//   request opts in), up to `max_attempts` attempts; waits base × 2^(n-1) capped, plus random
//   jitter, or the (capped) Retry-After when that is longer. After the last attempt the error
//   is raised.
//
// Timeouts and connections that break mid-exchange are not retried by either style (the request
// may have been processed); the one exception, a reused connection the server had already
// closed, is handled by the client itself.
//
// Within a deadline (the request's whole timeout), a retry whose wait would not end before the
// time left runs out is not made: the caller gets what the last attempt gave.

#include <chrono>
#include <optional>
#include <string_view>
#include <utility>

#include "poolkit/backoff.hpp"

namespace poolkit {

enum class AttemptFailure {
  none,     // a response arrived (look at the status)
  connect,  // no connection could be made: nothing was sent
  timeout,  // the attempt ran out of time
  broken,   // the connection failed mid-exchange
  other,
};

struct AttemptOutcome {
  std::string_view method;  // upper case
  int status = 0;           // 0: no response
  AttemptFailure failure = AttemptFailure::none;
  std::optional<std::chrono::milliseconds> retry_after;  // from the response, when present
  bool non_idempotent_opt_in = false;  // the request allows status retries for POST/PATCH
};

struct RetryVerdict {
  bool retry = false;
  std::chrono::milliseconds delay{0};  // the wait before the retry (also when not made)
  // The policy would retry, but its wait would not end before the deadline: no retry.
  bool past_deadline = false;
  // The wait is the server's Retry-After (capped), not the backoff.
  bool from_retry_after = false;
};

bool is_idempotent_method(std::string_view method) noexcept;

class RetryPolicy {
 public:
  enum class Style { urllib3, resilience };

  // No retries.
  RetryPolicy() : RetryPolicy(Style::urllib3, 0, Backoff{}, std::chrono::milliseconds(0)) {}

  static RetryPolicy urllib3(int retries, std::chrono::milliseconds backoff_factor,
                             std::chrono::milliseconds retry_after_cap);
  static RetryPolicy resilience(int max_attempts, Backoff backoff,
                                std::chrono::milliseconds retry_after_cap);

  // Whether a response with this status is a retryable failure for this method.
  bool retryable_status(const AttemptOutcome& outcome) const noexcept;
  // Whether attempt outcome `outcome`, after `retries_done` retries, gets another attempt, and
  // after how long.
  RetryVerdict decide(const AttemptOutcome& outcome, int retries_done) const;
  // The same within a deadline `time_left` away: a retry whose wait is not shorter than
  // `time_left` is not made (retry false, past_deadline true, delay the wait it would have had).
  RetryVerdict decide(const AttemptOutcome& outcome, int retries_done,
                      std::chrono::milliseconds time_left) const;

  Style style() const noexcept { return style_; }
  int max_retries() const noexcept { return max_retries_; }
  // A copy allowing `retries` retries (per-request override); negative values mean zero.
  RetryPolicy with_max_retries(int retries) const noexcept;
  // urllib3 returns the last response once retries are exhausted; resilience raises.
  bool raises_when_exhausted() const noexcept { return style_ == Style::resilience; }

  bool operator==(const RetryPolicy&) const = default;

 private:
  RetryPolicy(Style style, int max_retries, Backoff backoff, std::chrono::milliseconds cap)
      : style_(style), max_retries_(max_retries), backoff_(backoff), retry_after_cap_(cap) {}
  // The wait before retry number `retry`, and whether it is the server's Retry-After.
  std::pair<std::chrono::milliseconds, bool> wait_before(int retry,
                                                         const AttemptOutcome& outcome) const;

  Style style_;
  int max_retries_;
  Backoff backoff_;
  std::chrono::milliseconds retry_after_cap_;
};

}  // namespace poolkit
