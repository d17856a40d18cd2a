// Fuzz target: the HTTP status/header handling poolkit does itself (src/http/response_parsing.hpp
// and the retry decision), on arbitrary bytes.
//
// The input is read three ways:
// - whole, as a Retry-After value: the wait is never negative and never above kRetryAfterMax;
// - split into lines, as libcurl hands them to the header callback: each line parses into views
//   inside it that keep their promises (a field's name is non-empty, has no ':' and no
//   surrounding white space; a status line starts with "HTTP/"); the header budget refuses
//   exactly the lines past its limits, and once it refuses it keeps refusing;
// - every Retry-After field found, with a deadline taken from the input, through both retry
//   styles: a retry is made only when its wait is shorter than the time left, and the wait is
//   within the policy's caps.
// A broken invariant traps.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <optional>
#include <string_view>

#include "http/response_parsing.hpp"
#include "poolkit/retry_policy.hpp"

namespace {

using poolkit::http::detail::HeaderBudget;
using poolkit::http::detail::HeaderLine;
using poolkit::http::detail::kMaxResponseHeaderBytes;
using poolkit::http::detail::kMaxResponseHeaderLines;
using poolkit::http::detail::kRetryAfterMax;
using std::chrono::milliseconds;

// Sun, 06 Nov 1994 08:49:37 GMT: fixed, so a crash reproduces whatever the clock says.
constexpr std::time_t kNow = 784111777;
constexpr milliseconds kRetryAfterCap{30000};
constexpr milliseconds kBackoffCap{8000};
constexpr milliseconds kJitter{500};

void require(bool invariant) {
  if (!invariant) __builtin_trap();
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

bool within(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) {
      return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
    };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<milliseconds> checked_retry_after(std::string_view value) {
  const auto wait = poolkit::http::detail::parse_retry_after(value, kNow);
  if (wait) require(wait->count() >= 0 && *wait <= kRetryAfterMax);
  return wait;
}

void check_line(std::string_view line) {
  const HeaderLine parsed = poolkit::http::detail::parse_header_line(line);
  switch (parsed.kind) {
    case HeaderLine::Kind::field:
      require(!parsed.name.empty());
      require(within(parsed.name, line) && within(parsed.value, line));
      require(parsed.name.find(':') == std::string_view::npos);
      require(!is_space(parsed.name.front()) && !is_space(parsed.name.back()));
      require(parsed.value.empty() ||
              (!is_space(parsed.value.front()) && !is_space(parsed.value.back())));
      break;
    case HeaderLine::Kind::status_line:
      require(line.find("HTTP/") != std::string_view::npos);
      break;
    case HeaderLine::Kind::blank:
      for (char c : line) require(is_space(c));
      break;
    case HeaderLine::Kind::malformed:
      require(parsed.name.empty() && parsed.value.empty());
      break;
  }
}

void check_retry(std::optional<milliseconds> retry_after, int status, milliseconds time_left) {
  const auto urllib3 = poolkit::RetryPolicy::urllib3(3, milliseconds(200), kRetryAfterCap);
  const auto resilience = poolkit::RetryPolicy::resilience(
      3, poolkit::Backoff{milliseconds(250), kBackoffCap, kJitter, 0.0}, kRetryAfterCap);
  poolkit::AttemptOutcome outcome;
  outcome.method = "GET";
  outcome.status = status;
  outcome.retry_after = retry_after;
  for (const auto* policy : {&urllib3, &resilience}) {
    for (int retries_done = 0; retries_done < 3; ++retries_done) {
      const auto verdict = policy->decide(outcome, retries_done, time_left);
      require(verdict.delay.count() >= 0);
      require(verdict.delay <= std::max(kRetryAfterCap, milliseconds(120000)) + kJitter);
      require(!(verdict.retry && verdict.past_deadline));
      if (verdict.retry) require(verdict.delay < time_left);
      if (verdict.past_deadline) require(verdict.delay >= time_left);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  checked_retry_after(input);

  // The deadline's time left (may be zero or negative) and a status, from the first bytes.
  const milliseconds time_left(size >= 2 ? (static_cast<int>(data[0]) << 8 | data[1]) - 1000 : 0);
  const int status = size >= 3 ? 400 + data[2] % 200 : 503;

  HeaderBudget budget;
  std::size_t bytes = 0;
  std::size_t lines = 0;
  bool refused = false;
  for (std::size_t start = 0; start < input.size();) {
    const std::size_t end = input.find('\n', start);
    const std::size_t stop = end == std::string_view::npos ? input.size() : end + 1;
    const std::string_view line = input.substr(start, stop - start);
    start = stop;
    check_line(line);
    bytes += line.size();
    ++lines;
    const bool taken = budget.take(line.size());
    require(taken == (bytes <= kMaxResponseHeaderBytes && lines <= kMaxResponseHeaderLines));
    require(!(refused && taken));
    refused = refused || !taken;
    const HeaderLine parsed = poolkit::http::detail::parse_header_line(line);
    if (parsed.kind == HeaderLine::Kind::field &&
        equals_ignoring_case(parsed.name, "Retry-After")) {
      check_retry(checked_retry_after(parsed.value), status, time_left);
    }
  }
  return 0;
}
