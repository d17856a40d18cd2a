#include "poolkit/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <tuple>

namespace poolkit {
namespace {

using std::chrono::milliseconds;

// urllib3's Retry.DEFAULT_BACKOFF_MAX.
constexpr milliseconds kUrllib3BackoffMax{120000};

bool one_of(std::string_view method, std::initializer_list<std::string_view> methods) {
  return std::find(methods.begin(), methods.end(), method) != methods.end();
}

bool honours_retry_after(RetryPolicy::Style style, int status) {
  if (style == RetryPolicy::Style::urllib3) return status == 413 || status == 429 || status == 503;
  return status == 429 || status == 503;
}

}  // namespace

bool is_idempotent_method(std::string_view method) noexcept {
  return one_of(method, {"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"});
}

RetryPolicy RetryPolicy::urllib3(int retries, milliseconds backoff_factor, milliseconds cap) {
  // urllib3 sleeps factor × 2^(n-1) before retry n except the first: 0, 2f, 4f, ...; that is
  // Backoff{base 2f}.exponential(n - 1).
  return RetryPolicy(Style::urllib3, std::max(0, retries),
                     Backoff{2 * backoff_factor, kUrllib3BackoffMax, milliseconds(0), 0.0}, cap);
}

RetryPolicy RetryPolicy::resilience(int max_attempts, Backoff backoff, milliseconds cap) {
  return RetryPolicy(Style::resilience, std::max(0, max_attempts - 1), backoff, cap);
}

RetryPolicy RetryPolicy::with_max_retries(int retries) const noexcept {
  RetryPolicy copy = *this;
  copy.max_retries_ = std::max(0, retries);
  return copy;
}

bool RetryPolicy::retryable_status(const AttemptOutcome& outcome) const noexcept {
  const int status = outcome.status;
  if (style_ == Style::urllib3) {
    // urllib3's Retry.is_retry: the status list, or any status that honours Retry-After when
    // the response has one.
    const bool listed = status == 500 || status == 502 || status == 503 || status == 504;
    const bool asks_to_wait =
        outcome.retry_after.has_value() && honours_retry_after(style_, status);
    return (listed || asks_to_wait) &&
           one_of(outcome.method, {"GET", "POST", "PUT", "PATCH", "DELETE"});
  }
  const bool failed = status == 429 || (status >= 500 && status <= 599);
  return failed && (outcome.non_idempotent_opt_in || is_idempotent_method(outcome.method));
}

std::pair<milliseconds, bool> RetryPolicy::wait_before(int retry,
                                                       const AttemptOutcome& outcome) const {
  std::optional<milliseconds> server_says;
  if (outcome.retry_after && honours_retry_after(style_, outcome.status)) {
    server_says = std::clamp(*outcome.retry_after, milliseconds(0), retry_after_cap_);
  }
  if (style_ == Style::urllib3) {
    if (server_says) return {*server_says, true};
    return {backoff_.exponential(retry - 1), false};
  }
  const auto backoff = backoff_.delay(retry);
  if (server_says && *server_says > backoff) return {*server_says, true};
  return {backoff, false};
}

RetryVerdict RetryPolicy::decide(const AttemptOutcome& outcome, int retries_done) const {
  return decide(outcome, retries_done, milliseconds::max());
}

RetryVerdict RetryPolicy::decide(const AttemptOutcome& outcome, int retries_done,
                                 milliseconds time_left) const {
  if (retries_done >= max_retries_) return {};
  const bool retryable = outcome.failure == AttemptFailure::connect ||
                         (outcome.failure == AttemptFailure::none && retryable_status(outcome));
  if (!retryable) return {};
  RetryVerdict verdict;
  std::tie(verdict.delay, verdict.from_retry_after) = wait_before(retries_done + 1, outcome);
  // A retry that would start at or after the deadline could only time out: the caller is
  // better served by what the last attempt gave, now.
  verdict.past_deadline = verdict.delay >= time_left;
  verdict.retry = !verdict.past_deadline;
  return verdict;
}

}  // namespace poolkit
