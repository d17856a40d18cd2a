// The parts of reading an HTTP response that poolkit does itself, without a server: Retry-After,
// header lines, the header limits.

#include <gtest/gtest.h>

#include <string>

#include "http/response_parsing.hpp"

using namespace std::chrono_literals;
using poolkit::http::detail::HeaderBudget;
using poolkit::http::detail::HeaderLine;
using poolkit::http::detail::kMaxResponseHeaderBytes;
using poolkit::http::detail::kMaxResponseHeaderLines;
using poolkit::http::detail::kRetryAfterMax;
using poolkit::http::detail::parse_header_line;
using poolkit::http::detail::parse_retry_after;

namespace {

// Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example date.
constexpr std::time_t kNow = 784111777;

}  // namespace

TEST(RetryAfter, DelaySecondsAreReadAsSeconds) {
  EXPECT_EQ(parse_retry_after("120", kNow), 120s);
  EXPECT_EQ(parse_retry_after("0", kNow), 0s);
  EXPECT_EQ(parse_retry_after(" 5\r\n", kNow), 5s) << "surrounding white space is ignored";
  EXPECT_EQ(parse_retry_after("0000000000000000000000000007", kNow), 7s) << "leading zeros";
}

TEST(RetryAfter, HugeNumbersSaturateInsteadOfOverflowing) {
  EXPECT_EQ(parse_retry_after("99999999999999999999", kNow), kRetryAfterMax);
  EXPECT_EQ(parse_retry_after(std::string(5000, '9'), kNow), kRetryAfterMax);
  EXPECT_EQ(parse_retry_after("86400", kNow), kRetryAfterMax);
  EXPECT_EQ(parse_retry_after("86399", kNow), 86399s);
}

TEST(RetryAfter, NegativeFractionalAndGarbageValuesAreIgnored) {
  for (const char* value :
       {"", "   ", "-5", "+5", "1.5", "5s", "0x10", "soon", "5 5",
        "Sun, 06 Nov 1994 08:49:37 GMT, and then far more text than any HTTP-date has"}) {
    EXPECT_EQ(parse_retry_after(value, kNow), std::nullopt) << "'" << value << "'";
  }
}

TEST(RetryAfter, HttpDatesInAllThreeFormsAreTheWaitUntilThen) {
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", kNow), 30s);   // IMF-fixdate
  EXPECT_EQ(parse_retry_after("Sunday, 06-Nov-94 08:50:07 GMT", kNow), 30s);  // RFC 850
  EXPECT_EQ(parse_retry_after("Sun Nov  6 08:50:07 1994", kNow), 30s);        // asctime
}

TEST(RetryAfter, APastDateIsNoWaitAndAFarOneSaturates) {
  EXPECT_EQ(parse_retry_after("Sat, 05 Nov 1994 08:49:37 GMT", kNow), 0s);
  EXPECT_EQ(parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", kNow), kRetryAfterMax);
}

TEST(HeaderLines, StatusLinesFieldsAndTheBlankLineAreTold) {
  EXPECT_EQ(parse_header_line("HTTP/1.1 200 OK\r\n").kind, HeaderLine::Kind::status_line);
  EXPECT_EQ(parse_header_line("HTTP/2 204\r\n").kind, HeaderLine::Kind::status_line);
  EXPECT_EQ(parse_header_line("\r\n").kind, HeaderLine::Kind::blank);
  const auto field = parse_header_line("Content-Type:  text/plain \r\n");
  EXPECT_EQ(field.kind, HeaderLine::Kind::field);
  EXPECT_EQ(field.name, "Content-Type");
  EXPECT_EQ(field.value, "text/plain");
}

TEST(HeaderLines, AValueKeepsItsColonsAndMayBeEmpty) {
  const auto location = parse_header_line("Location: http://host:8080/a\r\n");
  EXPECT_EQ(location.value, "http://host:8080/a");
  const auto empty = parse_header_line("X-Empty:\r\n");
  EXPECT_EQ(empty.kind, HeaderLine::Kind::field);
  EXPECT_EQ(empty.value, "");
}

TEST(HeaderLines, LinesWithoutANameAreMalformed) {
  EXPECT_EQ(parse_header_line("no colon here\r\n").kind, HeaderLine::Kind::malformed);
  EXPECT_EQ(parse_header_line(": value\r\n").kind, HeaderLine::Kind::malformed);
  EXPECT_EQ(parse_header_line(std::string("\0\0:\0", 4)).kind, HeaderLine::Kind::field)
      << "bytes other than white space are a name";
}

TEST(HeaderBudget, RefusesTheLinePastTheLineLimit) {
  HeaderBudget budget;
  for (std::size_t i = 0; i < kMaxResponseHeaderLines; ++i) ASSERT_TRUE(budget.take(10));
  EXPECT_FALSE(budget.take(10));
  EXPECT_TRUE(budget.exceeded());
  budget.reset();
  EXPECT_TRUE(budget.take(10));
}

TEST(HeaderBudget, RefusesTheBytePastTheByteLimitAndNeverWraps) {
  HeaderBudget budget;
  EXPECT_TRUE(budget.take(kMaxResponseHeaderBytes));
  EXPECT_FALSE(budget.take(1));
  HeaderBudget huge;
  EXPECT_FALSE(huge.take(SIZE_MAX));
  EXPECT_FALSE(huge.take(SIZE_MAX)) << "saturates instead of wrapping back under the limit";
}
