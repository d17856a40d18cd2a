// Replies a hostile or broken server sends: each one fails its command with a typed error
// within the configured time, the process's memory stays flat, nothing is retried that would
// make it worse, and the client works again afterwards.

#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <string>
#include <string_view>

#include "hostile_redis_server.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kOneMiB = std::size_t{1} << 20;
// Memory growth allowed for one hostile reply: the 1 MiB reply limit, hiredis' copy of it, slack.
constexpr long long kMemoryBound = 8LL << 20;

struct Knobs {
  std::chrono::milliseconds socket_timeout = 2s;
  std::size_t max_reply_bytes = kOneMiB;
  int retry_attempts = 0;
};

RedisSettings settings_for(const std::string& url, Knobs wanted) {
  RedisSettings settings = test_settings(url, "hostile-test");
  settings.socket_timeout = wanted.socket_timeout;
  settings.max_reply_bytes = wanted.max_reply_bytes;
  settings.retry_attempts = wanted.retry_attempts;
  return settings;
}

struct Failure {
  std::string message;
  std::chrono::milliseconds elapsed{0};
  long long memory_growth = 0;
};

// Runs `call`, which must throw ExpectedError; measures its time and the process's RSS growth.
template <class ExpectedError>
Failure expect_failure(const std::function<void()>& call) {
  Failure failure;
  const auto rss_before = static_cast<long long>(resident_bytes());
  const auto started = Clock::now();
  try {
    call();
    ADD_FAILURE() << "the call succeeded";
  } catch (const ExpectedError& error) {
    failure.message = error.what();
  } catch (const std::exception& error) {
    ADD_FAILURE() << "unexpected error type: " << error.what();
  }
  failure.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
  failure.memory_growth = static_cast<long long>(resident_bytes()) - rss_before;
  return failure;
}

void expect_contains(const std::string& text, const std::string& part) {
  EXPECT_NE(text.find(part), std::string::npos) << "\"" << part << "\" not in: " << text;
}

// The number in `message` between `before` and `after` (e.g. "after " and " ms"); -1 if none.
// (Not std::regex: g++ 12 warns inside <regex> under the sanitizers, and warnings are errors.)
long long number_between(const std::string& message, std::string_view before,
                         std::string_view after) {
  for (std::size_t at = message.find(before); at != std::string::npos;
       at = message.find(before, at + 1)) {
    const std::size_t digits = at + before.size();
    std::size_t end = digits;
    while (end < message.size() && std::isdigit(static_cast<unsigned char>(message[end]))) ++end;
    if (end > digits && message.compare(end, after.size(), after) == 0) {
      return std::stoll(message.substr(digits, end - digits));
    }
  }
  return -1;
}

// The "after N ms" a message states, which must be the real elapsed time.
long long stated_milliseconds(const std::string& message) {
  return number_between(message, "after ", " ms");
}

void expect_bounded(const Failure& failure, std::chrono::milliseconds bound) {
  EXPECT_LT(failure.elapsed, bound) << failure.message;
  EXPECT_LT(failure.memory_growth, kMemoryBound) << failure.message;
  const long long stated = stated_milliseconds(failure.message);
  EXPECT_GE(stated, 0) << failure.message;
  EXPECT_LE(stated, failure.elapsed.count() + 5) << failure.message;
}

// A protocol failure refused where it started: well within the socket timeout.
Failure expect_refused(redis::Client& client, const std::function<void(redis::Client&)>& call) {
  Failure failure = expect_failure<ProtocolError>([&] { call(client); });
  expect_bounded(failure, 1500ms);
  expect_contains(failure.message, "the connection was closed");
  expect_contains(failure.message, client.address());
  return failure;
}

void get(redis::Client& client) {
  client.get("key");
}

std::string nested_arrays(int depth) {
  std::string text;
  for (int i = 0; i < depth; ++i) text += "*1\r\n";
  return text + ":1\r\n";
}

TEST(RedisHostileReplies, HugeBulkStringThenAStreamIsRefusedAtTheHeader) {
  HostileRedisServer server("GET", HostileReply::endless("$9999999999999\r\n", "x"));
  redis::Client client(settings_for(server.url(), {}));
  const Failure failure = expect_refused(client, get);
  expect_contains(failure.message, "larger than REDIS_MAX_REPLY_BYTES (1048576 bytes)");
  expect_contains(failure.message, "bulk string of 9999999999999 bytes announced");
}

TEST(RedisHostileReplies, HugeBulkStringIsRefusedAtTheHeaderWithTheDefaultLimit) {
  HostileRedisServer server("GET", HostileReply::endless("$9999999999999\r\n", "x"));
  RedisSettings settings = settings_for(server.url(), {});
  settings.max_reply_bytes = poolkit::Settings::defaults().redis.max_reply_bytes;
  redis::Client client(settings);
  const Failure failure = expect_refused(client, get);
  // Nothing of the stream was read: refused before 64 MiB could arrive.
  expect_contains(failure.message, "REDIS_MAX_REPLY_BYTES (67108864 bytes)");
  EXPECT_LT(failure.memory_growth, kMemoryBound);
}

TEST(RedisHostileReplies, AStreamPastTheLimitStopsAtTheLimit) {
  // A bulk string that fits, inside an array whose other elements never end.
  HostileRedisServer server("GET", HostileReply::endless("*1000000\r\n", "$10\r\n0123456789\r\n"));
  redis::Client client(settings_for(server.url(), {}));
  const Failure failure = expect_refused(client, get);
  expect_contains(failure.message, "larger than REDIS_MAX_REPLY_BYTES (1048576 bytes)");
}

TEST(RedisHostileReplies, HugeArrayThenElementsIsRefusedBeforeAllocating) {
  HostileRedisServer server("GET", HostileReply::endless("*2147483647\r\n", ":0\r\n"));
  redis::Client client(settings_for(server.url(), {}));
  const Failure failure = expect_refused(client, get);
  expect_contains(failure.message, "array of 2147483647 elements announced");
}

TEST(RedisHostileReplies, BareHugeArrayHeaderIsRefusedAtOnce) {
  // hiredis alone spends ~10 s of CPU allocating for this header.
  HostileRedisServer server("GET", HostileReply::raw("*2147483647\r\n"));
  redis::Client client(settings_for(server.url(), {}));
  const Failure failure = expect_refused(client, get);
  expect_contains(failure.message, "2147483647 elements");
}

TEST(RedisHostileReplies, ArrayWhoseElementsCannotFitIsRefusedAtItsHeader) {
  HostileRedisServer server("GET", HostileReply::endless("*400000\r\n", ":0\r\n"));
  redis::Client client(settings_for(server.url(), {}));
  const Failure failure = expect_refused(client, get);
  expect_contains(failure.message, "larger than REDIS_MAX_REPLY_BYTES (1048576 bytes)");
  expect_contains(failure.message, "array of 400000 elements announced");
}

TEST(RedisHostileReplies, EndlessStatusLineIsRefusedAtTheLineCap) {
  HostileRedisServer server("PING", HostileReply::endless("+", "a"));
  redis::Client client(settings_for(server.url(), {}));
  const Failure failure = expect_refused(client, [](redis::Client& c) { c.ping(); });
  expect_contains(failure.message, "status or error line longer than 65536 bytes");
}

TEST(RedisHostileReplies, GarbageIsRefusedAsNotResp) {
  HostileRedisServer server("GET", HostileReply::raw("HTTP/1.1 400 Bad Request\r\n\r\n"));
  redis::Client client(settings_for(server.url(), {}));
  const Failure failure = expect_refused(client, get);
  expect_contains(failure.message, "not a valid RESP2 reply");
  expect_contains(failure.message, "0x48 ('H')");
}

TEST(RedisHostileReplies, DeepNestingIsAClearError) {
  HostileRedisServer server("GET", HostileReply::raw(nested_arrays(100)));
  redis::Client client(settings_for(server.url(), {}));
  const Failure failure = expect_refused(client, get);
  expect_contains(failure.message, "nests arrays more than 8 deep");
}

TEST(RedisHostileReplies, TrickledReplyTimesOutAtTheCommandsDeadline) {
  // 307 bytes at 100 ms each would take 31 s; the deadline is for the whole reply.
  const std::string reply = "+" + std::string(304, 'P') + "\r\n";
  ASSERT_EQ(reply.size(), 307u);
  HostileRedisServer server("PING", HostileReply::trickle(reply, 100ms));
  // PING is always retried after a timeout, but not after one that came mid-reply: the server
  // answers, too slowly, and would do so again.
  redis::Client client(settings_for(server.url(), {.socket_timeout = 1s, .retry_attempts = 3}));
  const Failure failure = expect_failure<TimeoutError>([&] { client.ping(); });
  EXPECT_GE(failure.elapsed, 1s) << failure.message;
  expect_bounded(failure, 3s);
  expect_contains(failure.message, "within REDIS_SOCKET_TIMEOUT (1000 ms)");
  expect_contains(failure.message, "bytes of the reply had arrived");
  EXPECT_GE(stated_milliseconds(failure.message), 1000) << failure.message;
  EXPECT_EQ(server.target_commands(), 1);
  EXPECT_EQ(client.stats().retries, 0u);
}

TEST(RedisHostileReplies, APipelineHasOneDeadlineForTheWholeRoundTrip) {
  // Each reply alone (5 bytes, 0.5 s) is within the timeout; four of them are not.
  HostileRedisServer server("GET", HostileReply::trickle("$-1\r\n", 100ms));
  redis::Client client(settings_for(server.url(), {.socket_timeout = 1s}));
  const Failure failure = expect_failure<TimeoutError>([&] {
    auto pipeline = client.pipeline();
    for (int i = 0; i < 4; ++i) pipeline.add("GET", "key");
    pipeline.execute();
  });
  EXPECT_GE(failure.elapsed, 1s) << failure.message;
  expect_bounded(failure, 3s);
}

TEST(RedisHostileReplies, SilenceTimesOut) {
  HostileRedisServer server("GET", HostileReply::silence());
  redis::Client client(settings_for(server.url(), {.socket_timeout = 1s}));
  const Failure failure = expect_failure<TimeoutError>([&] { get(client); });
  EXPECT_GE(failure.elapsed, 1s) << failure.message;
  expect_bounded(failure, 3s);
}

TEST(RedisHostileReplies, SilenceIsRetriedAndTheMessageSaysWhatTheWholeCallTook) {
  HostileRedisServer server("GET", HostileReply::silence());
  redis::Client client(settings_for(server.url(), {.socket_timeout = 300ms, .retry_attempts = 2}));
  const Failure failure = expect_failure<TimeoutError>([&] { get(client); });
  EXPECT_EQ(server.target_commands(), 3);
  EXPECT_GE(failure.elapsed, 900ms) << failure.message;
  EXPECT_LT(failure.elapsed, 3s) << failure.message;
  const long long in_all = number_between(failure.message, "(3 attempts, ", " ms in all)");
  EXPECT_GE(in_all, 900) << failure.message;
  EXPECT_LE(in_all, failure.elapsed.count()) << failure.message;
}

TEST(RedisHostileReplies, CorrectReplyThenCloseLeavesTheClientWorking) {
  HostileRedisServer server("PING", HostileReply::raw_then_close("+PONG\r\n"));
  redis::Client client(settings_for(server.url(), {.retry_attempts = 3}));
  client.ping();
  // The next command finds the closed connection before writing and uses a new one.
  EXPECT_EQ(client.get("key"), std::nullopt);
  EXPECT_EQ(server.connections(), 2);
}

TEST(RedisHostileReplies, AHostileReplyIsNotRetried) {
  HostileRedisServer server("GET", HostileReply::raw("$9999999999999\r\n"));
  redis::Client client(settings_for(server.url(), {.retry_attempts = 3}));
  expect_refused(client, get);
  EXPECT_EQ(server.target_commands(), 1);
  EXPECT_EQ(client.stats().retries, 0u);
}

TEST(RedisHostileReplies, TheClientWorksAgainAfterAHostileReply) {
  HostileRedisServer server("GET", HostileReply::endless("$9999999999999\r\n", "x"), 1);
  redis::Client client(settings_for(server.url(), {.retry_attempts = 3}));
  expect_refused(client, get);
  // The refused connection was closed, not returned to the pool: the next GET gets a new one.
  EXPECT_EQ(client.get("key"), std::nullopt);
  EXPECT_EQ(server.connections(), 2);
  EXPECT_EQ(client.stats().pool.total, 1u);
}

TEST(RedisHostileReplies, RealServerRepliesUpToTheLimitPassAndLargerOnesAreRefused) {
  RedisServer real;
  RedisSettings settings = test_settings(real.url(), "limit-test");
  settings.max_reply_bytes = 4096;
  redis::Client client(settings);
  client.set("fits", std::string(4000, 'f'));  // "$4000\r\n" + 4000 + "\r\n" = 4009 bytes
  client.set("too-big", std::string(4100, 'b'));
  EXPECT_EQ(client.get("fits"), std::string(4000, 'f'));
  const Failure failure = expect_failure<ProtocolError>([&] { client.get("too-big"); });
  expect_contains(failure.message, "bulk string of 4100 bytes announced");
  EXPECT_EQ(client.stats().retries, 0u);
  // The pool is not poisoned: plain commands and pipelines work on.
  EXPECT_EQ(client.get("fits"), std::string(4000, 'f'));
  auto pipeline = client.pipeline();
  pipeline.add("INCR", "n").add("INCR", "n").add("GET", "fits");
  const auto replies = pipeline.execute();
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[1].as_integer(), 2);
  EXPECT_EQ(replies[2].as_string(), std::string(4000, 'f'));
}

TEST(RedisHostileReplies, RealServerLargeRepliesAndLongPipelinesArriveIntact) {
  // Replies that span many reads, and many replies per read split at every offset.
  RedisServer real;
  redis::Client client(test_settings(real.url(), "large-replies"));
  std::string large(5 * kOneMiB, '\0');
  for (std::size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>('a' + i % 26);
  client.set("large", large);
  EXPECT_EQ(client.get("large"), large);
  auto pipeline = client.pipeline();
  for (int i = 0; i < 2000; ++i) pipeline.add("SET", "k" + std::to_string(i), std::string(37, 'v'));
  for (int i = 0; i < 2000; ++i) pipeline.add("GET", "k" + std::to_string(i));
  const auto replies = pipeline.execute();
  ASSERT_EQ(replies.size(), 4000u);
  for (int i = 2000; i < 4000; ++i) ASSERT_EQ(replies[i].as_string(), std::string(37, 'v'));
  EXPECT_EQ(client.stats().pool.total, 1u);
}

}  // namespace
}  // namespace poolkit::test
