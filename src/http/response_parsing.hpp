#pragma once
// The parts of reading a response that poolkit does itself, not libcurl: splitting a header
// line, reading Retry-After, and the limits on a response's header. Pure functions without
// I/O, so unit tests and the fuzz target (fuzz/http_headers_fuzz.cpp) drive them directly.

#include <chrono>
#include <cstddef>
#include <ctime>
#include <optional>
#include <string_view>

namespace poolkit::http::detail {

// The longest wait a Retry-After value is read as; larger numbers and later dates saturate to
// it. The retry policy caps it further (30 s), and the request's deadline further still.
inline constexpr std::chrono::milliseconds kRetryAfterMax = std::chrono::hours(24);

// The wait a Retry-After value asks for, from `now`: delay-seconds (digits only, any number of
// them, saturating at kRetryAfterMax) or an HTTP-date (one in the past is no wait). nullopt
// for anything else: empty, negative, fractional, garbage. Never negative, never above
// kRetryAfterMax.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::time_t now);

struct HeaderLine {
  enum class Kind {
    status_line,  // "HTTP/..." : a new response begins (after 1xx, or a redirect)
    field,        // "name: value"
    blank,        // the end of the header
    malformed,    // none of those: ignored
  };
  Kind kind = Kind::malformed;
  std::string_view name;   // field: without surrounding white space, never empty
  std::string_view value;  // field: without surrounding white space
};

// One line as libcurl's header callback hands it over (with or without its CRLF). The views
// point into `line`.
HeaderLine parse_header_line(std::string_view line) noexcept;

// A response header is refused past either limit: libcurl refuses more than 300 KB in all
// (and 100 KB in one line) itself, but reports it as a receive error or "Out of memory";
// refusing earlier names the fault. Python's http.client accepts at most 100 header lines.
inline constexpr std::size_t kMaxResponseHeaderBytes = 256 * 1024;
inline constexpr std::size_t kMaxResponseHeaderLines = 1000;

// Counts the header lines of one attempt (every response of it: 1xx, redirects, trailers).
class HeaderBudget {
 public:
  // Counts one line; false once the header is past a limit (and from then on).
  bool take(std::size_t line_bytes) noexcept;
  std::size_t bytes() const noexcept { return bytes_; }
  std::size_t lines() const noexcept { return lines_; }
  bool exceeded() const noexcept {
    return bytes_ > kMaxResponseHeaderBytes || lines_ > kMaxResponseHeaderLines;
  }
  void reset() noexcept { bytes_ = lines_ = 0; }

 private:
  std::size_t bytes_ = 0;
  std::size_t lines_ = 0;
};

// Whether a body of `received` bytes is within `limit` (0: no limit).
constexpr bool body_within_limit(std::size_t received, std::size_t limit) noexcept {
  return limit == 0 || received <= limit;
}

}  // namespace poolkit::http::detail
