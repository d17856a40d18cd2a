// The reply scanner that guards hiredis' reader: whole replies are found wherever the stream is
// split, and every limit is refused at the header or byte that breaks it.

#include "redis/reply_scanner.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

namespace poolkit::redis::detail {
namespace {

using Status = ReplyScanner::Status;

ReplyLimits small_limits(std::size_t max_reply_bytes) {
  ReplyLimits limits;
  limits.max_reply_bytes = max_reply_bytes;
  return limits;
}

std::string nested_arrays(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += "*1\r\n";
  return text + ":1\r\n";
}

const std::vector<std::string>& valid_replies() {
  static const std::vector<std::string> replies = {
      "+OK\r\n",
      "+\r\n",
      "-ERR wrong\r\n",
      "+text with a lone \r inside\r\n",
      ":0\r\n",
      ":-12\r\n",
      ":9223372036854775807\r\n",
      ":-9223372036854775808\r\n",
      "$3\r\nfoo\r\n",
      "$0\r\n\r\n",
      "$-1\r\n",
      "$4\r\n\r\n\r\n\r\n",
      "*-1\r\n",
      "*0\r\n",
      "*3\r\n:1\r\n$-1\r\n+x\r\n",
      "*2\r\n*1\r\n:1\r\n$0\r\n\r\n",
      "*2\r\n*0\r\n*2\r\n*-1\r\n-E\r\n",
      nested_arrays(8),
  };
  return replies;
}

// Feeds `stream` in pieces of `piece` bytes; returns each completed reply's length.
std::vector<std::size_t> replies_in(ReplyScanner& scanner, std::string_view stream,
                                    std::size_t piece) {
  std::vector<std::size_t> lengths;
  std::size_t reply_start = 0;
  std::size_t offset = 0;
  while (offset < stream.size()) {
    const std::string_view chunk = stream.substr(offset, piece);
    const auto result = scanner.feed(chunk);
    EXPECT_NE(result.status, Status::violation) << scanner.violation_detail();
    if (result.status == Status::violation) break;
    offset += result.consumed;
    if (result.status == Status::complete) {
      lengths.push_back(offset - reply_start);
      EXPECT_EQ(scanner.reply_bytes(), offset - reply_start);
      reply_start = offset;
    } else {
      EXPECT_EQ(result.consumed, chunk.size());
    }
  }
  return lengths;
}

struct Outcome {
  Status status;
  std::size_t consumed;
  ReplyLimit limit;
  std::string detail;
};

Outcome scan(std::string_view bytes, ReplyLimits limits = {}) {
  ReplyScanner scanner(limits);
  const auto result = scanner.feed(bytes);
  return {result.status, result.consumed, scanner.violated_limit(), scanner.violation_detail()};
}

void expect_violation(std::string_view bytes, ReplyLimit limit, std::string_view detail_part,
                      ReplyLimits limits = {}) {
  const Outcome outcome = scan(bytes, limits);
  ASSERT_EQ(outcome.status, Status::violation) << bytes;
  EXPECT_EQ(outcome.limit, limit) << outcome.detail;
  EXPECT_NE(outcome.detail.find(detail_part), std::string::npos) << outcome.detail;
  EXPECT_LT(outcome.consumed, bytes.size());
}

TEST(ReplyScanner, FindsEachValidReplyWhole) {
  for (const std::string& reply : valid_replies()) {
    const Outcome outcome = scan(reply);
    EXPECT_EQ(outcome.status, Status::complete) << reply << ": " << outcome.detail;
    EXPECT_EQ(outcome.consumed, reply.size()) << reply;
  }
}

TEST(ReplyScanner, FindsTheSameRepliesWhateverTheSplit) {
  std::string stream;
  std::vector<std::size_t> expected;
  for (const std::string& reply : valid_replies()) {
    stream += reply;
    expected.push_back(reply.size());
  }
  for (const std::size_t piece :
       {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, stream.size()}) {
    ReplyScanner scanner;
    EXPECT_EQ(replies_in(scanner, stream, piece), expected) << "pieces of " << piece;
    EXPECT_FALSE(scanner.in_reply());
  }
}

TEST(ReplyScanner, NeedsMoreUntilTheLastByte) {
  const std::string reply = "*2\r\n$3\r\nfoo\r\n:1\r\n";
  ReplyScanner scanner;
  const auto partial = scanner.feed(std::string_view(reply).substr(0, reply.size() - 1));
  EXPECT_EQ(partial.status, Status::need_more);
  EXPECT_TRUE(scanner.in_reply());
  const auto last = scanner.feed(std::string_view(reply).substr(reply.size() - 1));
  EXPECT_EQ(last.status, Status::complete);
  EXPECT_EQ(last.consumed, 1u);
}

TEST(ReplyScanner, HiredisParsesEveryReplyTheScannerAccepts) {
  for (const std::string& reply : valid_replies()) {
    ASSERT_EQ(scan(reply).status, Status::complete) << reply;
    std::unique_ptr<redisReader, decltype(&redisReaderFree)> reader(redisReaderCreate(),
                                                                    &redisReaderFree);
    ASSERT_EQ(redisReaderFeed(reader.get(), reply.data(), reply.size()), REDIS_OK);
    void* parsed = nullptr;
    ASSERT_EQ(redisReaderGetReply(reader.get(), &parsed), REDIS_OK) << reply;
    EXPECT_NE(parsed, nullptr) << reply;
    freeReplyObject(parsed);
  }
}

TEST(ReplyScanner, RefusesAHugeBulkStringAtItsHeader) {
  expect_violation("$9999999999999\r\nxxxx", ReplyLimit::bulk_length,
                   "bulk string of 9999999999999 bytes announced");
  expect_violation("$99999999999999999999\r\n", ReplyLimit::bulk_length, "more than");
  expect_violation("$1025\r\n", ReplyLimit::bulk_length, "1025", small_limits(1024));
  EXPECT_EQ(scan("$1015\r\n", small_limits(1024)).status, Status::need_more);
}

TEST(ReplyScanner, RefusesABulkStringThatWouldPassTheWholeReplysLimit) {
  // 4 + 5 bytes received, one more element owed (3 bytes at least), 90 + 2 announced: 104.
  expect_violation("*2\r\n$90\r\n", ReplyLimit::reply_bytes, "bulk string of 90 bytes",
                   small_limits(100));
  EXPECT_EQ(scan("*2\r\n$86\r\n", small_limits(100)).status, Status::need_more);
}

TEST(ReplyScanner, RefusesAnArrayBeforeItsElementsArrive) {
  expect_violation("*2147483647\r\n", ReplyLimit::array_elements, "2147483647 elements");
  expect_violation("*400000\r\n", ReplyLimit::array_length, "at least 1200000 bytes",
                   small_limits(1 << 20));
  // Nested arrays cannot each claim the whole budget.
  expect_violation("*300\r\n*300\r\n", ReplyLimit::array_length, "300 elements",
                   small_limits(1024));
  EXPECT_EQ(scan("*300\r\n", small_limits(1024)).status, Status::need_more);
}

TEST(ReplyScanner, RefusesAReplyThatGrowsPastTheLimit) {
  std::string stream = "*100\r\n";
  for (int i = 0; i < 100; ++i) stream += "+" + std::string(50, 'a') + "\r\n";
  expect_violation(stream, ReplyLimit::reply_bytes, "bytes received", small_limits(2048));
}

TEST(ReplyScanner, RefusesALineWithoutEnd) {
  ReplyLimits limits;
  limits.max_line_bytes = 16;
  EXPECT_EQ(scan("+" + std::string(16, 'a') + "\r\n", limits).status, Status::complete);
  expect_violation("+" + std::string(18, 'a'), ReplyLimit::line_length, "more than 16 bytes",
                   limits);
  expect_violation("-" + std::string(18, 'a'), ReplyLimit::line_length, "error line", limits);
  // The default cap holds whatever the reply limit.
  expect_violation("+" + std::string((64 << 10) + 2, 'a'), ReplyLimit::line_length, "65536 bytes");
}

TEST(ReplyScanner, RefusesNestingHiredisWouldRefuse) {
  EXPECT_EQ(scan(nested_arrays(8)).status, Status::complete);
  expect_violation(nested_arrays(9), ReplyLimit::nesting, "inside 8 nested arrays");
  // hiredis refuses a ninth level at its type byte, whatever follows.
  expect_violation(nested_arrays(8).substr(0, 32) + "*0\r\n", ReplyLimit::nesting, "inside 8");
  EXPECT_EQ(scan(nested_arrays(9)).consumed, 32u);  // up to the ninth '*', not including it
}

TEST(ReplyScanner, RefusesWhatIsNotResp2) {
  expect_violation("GET\r\n", ReplyLimit::malformed, "0x47 ('G')");
  expect_violation(std::string(1, '\0'), ReplyLimit::malformed, "0x00");
  expect_violation("%1\r\n", ReplyLimit::malformed, "expected one of");
  expect_violation("$-2\r\n", ReplyLimit::malformed, "expected -1");
  expect_violation("*-0\r\n", ReplyLimit::malformed, "leading zero");
  expect_violation(":-0\r\n", ReplyLimit::malformed, "leading zero");
  expect_violation("$01\r\na\r\n", ReplyLimit::malformed, "leading zero");
  expect_violation("$1a\r\n", ReplyLimit::malformed, "0x61 ('a')");
  expect_violation("*\r\n", ReplyLimit::malformed, "no digits");
  expect_violation(":-\r\n", ReplyLimit::malformed, "no digits");
  expect_violation(":1\rX", ReplyLimit::malformed, "CR not followed by LF");
  expect_violation(":1-2\r\n", ReplyLimit::malformed, "0x2d");
  expect_violation(":9223372036854775808\r\n", ReplyLimit::malformed, "64-bit");
  expect_violation(":" + std::string(21, '1') + "\r\n", ReplyLimit::malformed, "20 characters");
  expect_violation("$3\r\nabcXY", ReplyLimit::malformed, "instead of CRLF");
}

TEST(ReplyScanner, StaysRefusedAfterAViolation) {
  ReplyScanner scanner(small_limits(1024));
  EXPECT_EQ(scanner.feed("$5000\r\n").status, Status::violation);
  const auto again = scanner.feed("+OK\r\n");
  EXPECT_EQ(again.status, Status::violation);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_EQ(scanner.violated_limit(), ReplyLimit::bulk_length);
}

TEST(ReplyScanner, StopsAtTheOffendingHeaderSoHiredisNeverSeesIt) {
  const std::string stream = ":1\r\n*2147483647\r\n";
  ReplyScanner scanner;
  const auto first = scanner.feed(stream);
  ASSERT_EQ(first.status, Status::complete);
  EXPECT_EQ(first.consumed, 4u);
  const auto second = scanner.feed(std::string_view(stream).substr(first.consumed));
  ASSERT_EQ(second.status, Status::violation);
  // Everything up to the header's final LF: without it hiredis does not act on the header.
  EXPECT_EQ(second.consumed, std::string("*2147483647\r").size());
}

}  // namespace
}  // namespace poolkit::redis::detail
