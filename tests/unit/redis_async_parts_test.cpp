// The async Redis client's pieces without a server: the hand-over of a result between the I/O
// thread and its waiter (blocking, coroutine, callback) in either order, the in-place parser of
// scalar replies against hiredis, the commands it refuses, and its options from the settings.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <coroutine>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "../support/detached_coroutine.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis_async.hpp"
#include "poolkit/settings.hpp"
#include "redis/async/async_impl.hpp"
#include "redis/connection_state.hpp"

namespace poolkit::redis {
namespace {

using detail::CallState;

// A handle for the waiter, one for the "queue".
std::pair<detail::CallHandle, detail::CallHandle> new_call() {
  CallState* state = CallState::make(2, std::thread::id(), nullptr);
  return {detail::adopt(state), detail::adopt(state)};
}

TEST(AsyncCallState, ResultBeforeOrAfterTheWaiterArrives) {
  {
    auto [waiter, queue] = new_call();
    queue->complete(Reply::integer(7));
    EXPECT_TRUE(waiter->ready());
    EXPECT_EQ(waiter->take().as_integer(), 7);
  }
  {
    auto [waiter, queue] = new_call();
    std::thread completer([&queue = queue] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      queue->fail(std::make_exception_ptr(TimeoutError(Backend::redis, "late")));
    });
    waiter->wait();
    EXPECT_THROW(waiter->take(), TimeoutError);
    completer.join();
  }
}

TEST(AsyncCallState, ACallbackRunsOnceWhicheverSideComesSecond) {
  for (int round = 0; round < 2000; ++round) {
    auto [waiter, queue] = new_call();
    std::atomic<int> runs{0};
    std::thread completer([&queue = queue] { queue->complete(Reply::status("OK")); });
    waiter->then([&](CallState& done) {
      EXPECT_EQ(done.take().as_string(), "OK");
      runs.fetch_add(1);
    });
    completer.join();
    EXPECT_EQ(runs.load(), 1);
  }
}

TEST(AsyncCallState, ACoroutineResumesExactlyOnceWithItsReply) {
  for (int round = 0; round < 2000; ++round) {
    auto [waiter, queue] = new_call();
    std::atomic<long long> seen{-1};
    auto body = [&](detail::CallHandle handle) -> test::Detached {
      Awaitable<long long> awaitable(std::move(handle),
                                     [](Reply&& reply) { return reply.as_integer(); });
      seen = co_await awaitable;
    };
    std::thread completer([&queue = queue, round] { queue->complete(Reply::integer(round)); });
    body(std::move(waiter));
    completer.join();
    EXPECT_EQ(seen.load(), round);
  }
}

TEST(AsyncCallState, WaitingOnTheIoThreadIsRefused) {
  CallState* state = CallState::make(1, std::this_thread::get_id(), nullptr);
  const detail::CallHandle handle = detail::adopt(state);
  EXPECT_THROW(handle->wait(), ConfigError);
}

// Every scalar reply parsed in place equals what hiredis makes of the same bytes.
TEST(AsyncScalarParser, AgreesWithHiredis) {
  std::vector<std::string> replies = {"+OK\r\n",         "+\r\n",      "-ERR wrong\r\n",
                                      ":0\r\n",          ":-42\r\n",   ":9223372036854775807\r\n",
                                      "$-1\r\n",         "$0\r\n\r\n", "$5\r\nhello\r\n",
                                      "$4\r\na\r\nb\r\n"};
  std::mt19937 random(14);
  for (int i = 0; i < 200; ++i) {
    std::string body(random() % 300, '\0');
    for (char& c : body) c = static_cast<char>(random() % 256);
    replies.push_back("$" + std::to_string(body.size()) + "\r\n" + body + "\r\n");
  }
  for (const std::string& bytes : replies) {
    redisReader* reader = redisReaderCreate();
    ASSERT_EQ(redisReaderFeed(reader, bytes.data(), bytes.size()), REDIS_OK);
    void* raw = nullptr;
    ASSERT_EQ(redisReaderGetReply(reader, &raw), REDIS_OK);
    ASSERT_NE(raw, nullptr) << bytes;
    const Reply expected = detail::reply_from_hiredis(*static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    redisReaderFree(reader);
    const std::optional<Reply> parsed = detail::parse_scalar_reply(bytes);
    ASSERT_TRUE(parsed.has_value()) << bytes;
    EXPECT_EQ(*parsed, expected) << bytes;
  }
  EXPECT_FALSE(detail::parse_scalar_reply("*1\r\n:1\r\n").has_value());
}

TEST(AsyncRefusals, ConnectionStateAndBlockingCommandsAreRefusedOthersPass) {
  auto refused = [](std::initializer_list<Arg> args) {
    return !detail::async_refusal(std::span<const Arg>(args.begin(), args.size())).empty();
  };
  EXPECT_TRUE(refused({"multi"}));
  EXPECT_TRUE(refused({"EXEC"}));
  EXPECT_TRUE(refused({"UNWATCH"}));
  EXPECT_TRUE(refused({"BRPOP", "q", "1"}));
  EXPECT_TRUE(refused({"BZPOPMIN", "z", "1"}));
  EXPECT_TRUE(refused({"WAIT", "1", "0"}));
  EXPECT_TRUE(refused({"XREADGROUP", "GROUP", "g", "c", "block", "0", "STREAMS", "s", ">"}));
  EXPECT_TRUE(refused({"PSUBSCRIBE", "news.*"}));
  EXPECT_TRUE(refused({"CLIENT", "reply", "SKIP"}));
  EXPECT_TRUE(refused({"QUIT"}));
  EXPECT_FALSE(refused({"GET", "k"}));
  EXPECT_FALSE(refused({"XREAD", "COUNT", "1", "STREAMS", "s", "0"}));
  EXPECT_FALSE(refused({"CLIENT", "SETINFO", "LIB-NAME", "x"}));
  EXPECT_FALSE(refused({"PUBLISH", "news", "hi"}));
  const Arg multi[] = {"MULTI"};
  EXPECT_NE(detail::async_refusal(multi).find("transaction()"), std::string_view::npos);
  const Arg blpop[] = {"BLPOP", "q", "0"};
  EXPECT_NE(detail::async_refusal(blpop).find("with_connection()"), std::string_view::npos);
}

TEST(AsyncOptionsFromSettings, TakesTheSettingsAndDefaultsWhatIsUnset) {
  RedisSettings settings = Settings::defaults().redis;
  EXPECT_EQ(settings.multiplex_connections, 2u);
  EXPECT_EQ(settings.max_pending, 10'000u);
  settings.multiplex_connections = 3;
  settings.max_pending = 50;
  settings.socket_timeout = std::chrono::milliseconds(1500);
  const AsyncOptions options = AsyncOptions::from(settings);
  EXPECT_EQ(options.multiplex_connections, 3u);
  EXPECT_EQ(options.max_pending, 50u);
  EXPECT_EQ(options.socket_timeout, std::chrono::milliseconds(1500));
  const AsyncOptions by_hand = AsyncOptions::from(RedisSettings{});
  EXPECT_EQ(by_hand.multiplex_connections, 2u);
  EXPECT_EQ(by_hand.max_pending, 10'000u);
}

}  // namespace
}  // namespace poolkit::redis
