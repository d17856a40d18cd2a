#include "response_parsing.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>

namespace poolkit::http::detail {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The longest HTTP-date is the asctime form's 24 characters; anything much longer is not one.
constexpr std::size_t kLongestDateText = 64;

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool all_digits(std::string_view text) noexcept {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

milliseconds saturated_seconds(std::int64_t count) noexcept {
  const std::int64_t most = std::chrono::duration_cast<seconds>(kRetryAfterMax).count();
  if (count >= most) return kRetryAfterMax;
  return seconds(std::max<std::int64_t>(0, count));
}

milliseconds delay_seconds(std::string_view digits) noexcept {
  const std::int64_t most = std::chrono::duration_cast<seconds>(kRetryAfterMax).count();
  std::int64_t count = 0;
  for (char c : digits) {
    count = count * 10 + (c - '0');
    if (count >= most) return kRetryAfterMax;  // before it can overflow
  }
  return saturated_seconds(count);
}

}  // namespace

std::optional<milliseconds> parse_retry_after(std::string_view value, std::time_t now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (all_digits(value)) return delay_seconds(value);
  // Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with the day's name; this
  // keeps "-5", "+5" and "1.5" from reaching the date parser's more lenient formats.
  if (value.size() > kLongestDateText || !std::isalpha(static_cast<unsigned char>(value[0]))) {
    return std::nullopt;
  }
  const std::string text(value);
  const std::time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  if (when <= now) return milliseconds(0);
  // Both are within time_t and when > now; the difference of two non-negative values fits.
  if (now < 0) return kRetryAfterMax;
  return saturated_seconds(static_cast<std::int64_t>(when - now));
}

HeaderLine parse_header_line(std::string_view line) noexcept {
  HeaderLine parsed;
  const std::string_view text = trim(line);
  if (text.empty()) {
    parsed.kind = HeaderLine::Kind::blank;
    return parsed;
  }
  if (text.starts_with("HTTP/")) {
    parsed.kind = HeaderLine::Kind::status_line;
    return parsed;
  }
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) return parsed;
  const std::string_view name = trim(text.substr(0, colon));
  if (name.empty()) return parsed;
  parsed.kind = HeaderLine::Kind::field;
  parsed.name = name;
  parsed.value = trim(text.substr(colon + 1));
  return parsed;
}

bool HeaderBudget::take(std::size_t line_bytes) noexcept {
  // Saturating, so a counter can never wrap back under its limit.
  bytes_ = line_bytes > SIZE_MAX - bytes_ ? SIZE_MAX : bytes_ + line_bytes;
  if (lines_ < SIZE_MAX) ++lines_;
  return !exceeded();
}

}  // namespace poolkit::http::detail
