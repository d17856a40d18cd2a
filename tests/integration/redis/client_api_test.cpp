// Every API of redis::Client against a real redis-server.

#include <gtest/gtest.h>

#include <thread>

#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;
using redis::Reply;

class RedisApi : public SharedRedisServer {
 protected:
  redis::Client client_{test_settings(server_->url())};
};

TEST_F(RedisApi, CommandReturnsEveryReplyType) {
  EXPECT_TRUE(client_.command("GET", "missing").is_nil());
  EXPECT_EQ(client_.command("SET", "k", 41).type(), Reply::Type::status);
  EXPECT_EQ(client_.command("SET", "k", 41).as_string(), "OK");
  EXPECT_EQ(client_.command("INCR", "k").as_integer(), 42);
  const Reply text = client_.command("GET", "k");
  EXPECT_EQ(text.type(), Reply::Type::string);
  EXPECT_EQ(text.as_string(), "42");
  client_.command("RPUSH", "list", "a", "b");
  const Reply list = client_.command("LRANGE", "list", 0, -1);
  ASSERT_EQ(list.type(), Reply::Type::array);
  EXPECT_EQ(list.as_array(), (std::vector<Reply>{Reply::string("a"), Reply::string("b")}));
  const std::vector<std::string> words{"ECHO", "runtime words"};
  EXPECT_EQ(client_.command(std::span<const std::string>(words)).as_string(), "runtime words");
}

TEST_F(RedisApi, ErrorReplyIsServerErrorWithRedisTextAndConnectionStaysUsable) {
  client_.rpush("list", {"x"});
  try {
    client_.command("GET", "list");
    FAIL() << "expected ServerError";
  } catch (const ServerError& error) {
    EXPECT_NE(std::string(error.what()).find("WRONGTYPE"), std::string::npos) << error.what();
    EXPECT_EQ(error.backend(), Backend::redis);
    EXPECT_FALSE(error.retryable());
  }
  EXPECT_EQ(client_.llen("list"), 1);
  EXPECT_EQ(client_.stats().pool.closed_total(), 0u);
  EXPECT_EQ(client_.stats().retries, 0u);
}

TEST_F(RedisApi, ReplyAccessorsRejectTheWrongType) {
  EXPECT_THROW(client_.command("PING").as_integer(), ProtocolError);
  EXPECT_THROW(Reply::integer(1).as_string(), ProtocolError);
  EXPECT_THROW(Reply().as_array(), ProtocolError);
}

TEST_F(RedisApi, StringsWithExpiryAndConditions) {
  EXPECT_TRUE(client_.set("s", "v1"));
  EXPECT_EQ(client_.get("s"), "v1");
  EXPECT_FALSE(client_.set("s", "v2", {.condition = redis::SetCondition::if_not_exists}));
  EXPECT_EQ(client_.get("s"), "v1");
  EXPECT_TRUE(client_.set("s", "v3", {.condition = redis::SetCondition::if_exists}));
  EXPECT_FALSE(client_.set("absent", "v", {.condition = redis::SetCondition::if_exists}));
  EXPECT_EQ(client_.get("absent"), std::nullopt);

  EXPECT_TRUE(client_.set("ex", "v", {.ttl = 100s}));
  EXPECT_GT(client_.ttl("ex"), 90);
  EXPECT_TRUE(client_.set("px", "v", {.ttl = 1500ms}));
  const long long pttl = client_.command("PTTL", "px").as_integer();
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 1500);
}

TEST_F(RedisApi, KeysCountersAndExpiry) {
  client_.mset({{"a", "1"}, {"b", "2"}});
  EXPECT_EQ(client_.mget({"a", "missing", "b"}),
            (std::vector<std::optional<std::string>>{"1", std::nullopt, "2"}));
  EXPECT_EQ(client_.exists({"a", "b", "missing"}), 2);
  EXPECT_EQ(client_.incr("n"), 1);
  EXPECT_EQ(client_.incr("n", 10), 11);
  EXPECT_EQ(client_.decr("n"), 10);
  EXPECT_EQ(client_.decr("n", 4), 6);
  EXPECT_EQ(client_.ttl("a"), -1);
  EXPECT_EQ(client_.ttl("missing"), -2);
  EXPECT_TRUE(client_.expire("a", 50s));
  EXPECT_FALSE(client_.expire("missing", 50s));
  EXPECT_GT(client_.ttl("a"), 40);
  EXPECT_EQ(client_.del({"a", "b", "missing"}), 2);
  EXPECT_EQ(client_.exists({"a"}), 0);
}

TEST_F(RedisApi, Hashes) {
  EXPECT_TRUE(client_.hset("h", "f1", "v1"));
  EXPECT_FALSE(client_.hset("h", "f1", "v1b"));
  EXPECT_EQ(client_.hset("h", {{"f2", "v2"}, {"f3", "v3"}}), 2);
  EXPECT_EQ(client_.hget("h", "f1"), "v1b");
  EXPECT_EQ(client_.hget("h", "nope"), std::nullopt);
  EXPECT_TRUE(client_.hexists("h", "f2"));
  EXPECT_EQ(client_.hincrby("h", "count", 5), 5);
  EXPECT_EQ(client_.hdel("h", {"f3", "nope"}), 1);
  EXPECT_EQ(client_.hgetall("h"),
            (std::map<std::string, std::string>{{"count", "5"}, {"f1", "v1b"}, {"f2", "v2"}}));
}

TEST_F(RedisApi, Lists) {
  EXPECT_EQ(client_.rpush("l", {"b", "c"}), 2);
  EXPECT_EQ(client_.lpush("l", {"a"}), 3);
  EXPECT_EQ(client_.lrange("l", 0, -1), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(client_.llen("l"), 3);
  EXPECT_EQ(client_.lpop("l"), "a");
  EXPECT_EQ(client_.rpop("l"), "c");
  EXPECT_EQ(client_.rpop("l"), "b");
  EXPECT_EQ(client_.rpop("l"), std::nullopt);
}

TEST_F(RedisApi, Sets) {
  EXPECT_EQ(client_.sadd("set", {"x", "y", "z", "x"}), 3);
  EXPECT_EQ(client_.srem("set", {"y", "nope"}), 1);
  EXPECT_EQ(client_.smembers("set"), (std::vector<std::string>{"x", "z"}));
  EXPECT_TRUE(client_.sismember("set", "x"));
  EXPECT_FALSE(client_.sismember("set", "y"));
  EXPECT_EQ(client_.scard("set"), 2);
}

TEST_F(RedisApi, PipelineSendsEverythingOnOneLeaseAndKeepsErrorsInPlace) {
  client_.ping();  // the connection exists before we count
  const auto before = client_.stats().pool;
  auto pipeline = client_.pipeline();
  pipeline.add("SET", "p", 1).add("INCR", "p").add("HGET", "p", "f").add("GET", "p");
  EXPECT_EQ(pipeline.size(), 4u);
  const auto replies = pipeline.execute();
  ASSERT_EQ(replies.size(), 4u);
  EXPECT_EQ(replies[0].as_string(), "OK");
  EXPECT_EQ(replies[1].as_integer(), 2);
  EXPECT_TRUE(replies[2].is_error());
  EXPECT_NE(replies[2].error_text().find("WRONGTYPE"), std::string::npos);
  EXPECT_EQ(replies[3].as_string(), "2");
  const auto after = client_.stats().pool;
  EXPECT_EQ(after.checkouts - before.checkouts, 1u);
  EXPECT_EQ(after.created, before.created);
  EXPECT_EQ(pipeline.size(), 0u);
}

TEST_F(RedisApi, PipelineOfAThousandCommandsUsesOneLease) {
  auto pipeline = client_.pipeline();
  for (int i = 0; i < 1000; ++i) pipeline.add("INCR", "counter");
  const auto replies = pipeline.execute();
  ASSERT_EQ(replies.size(), 1000u);
  EXPECT_EQ(replies.back().as_integer(), 1000);
  EXPECT_EQ(client_.stats().pool.checkouts, 1u);
}

TEST_F(RedisApi, TransactionRunsQueuedCommandsAtomically) {
  const auto replies = client_.transaction([](redis::Transaction& tx) {
    tx.queue("SET", "t", 10).queue("INCRBY", "t", 5).queue("GET", "t");
  });
  ASSERT_TRUE(replies.has_value());
  ASSERT_EQ(replies->size(), 3u);
  EXPECT_EQ((*replies)[1].as_integer(), 15);
  EXPECT_EQ((*replies)[2].as_string(), "15");
}

TEST_F(RedisApi, TransactionWithWatchAbortsWhenTheKeyChangesInBetween) {
  client_.set("balance", "100");
  const std::vector<std::string> watched{"balance"};
  const auto untouched = client_.transaction(
      [](redis::Transaction& tx) {
        const long long balance = std::stoll(tx.command("GET", "balance").as_string());
        tx.queue("SET", "balance", balance - 30);
      },
      watched);
  ASSERT_TRUE(untouched.has_value());
  EXPECT_EQ(client_.get("balance"), "70");

  const auto raced = client_.transaction(
      [&](redis::Transaction& tx) {
        const long long balance = std::stoll(tx.command("GET", "balance").as_string());
        server_->admin_text({"SET", "balance", "500"});  // another client writes in between
        tx.queue("SET", "balance", balance - 30);
      },
      watched);
  EXPECT_FALSE(raced.has_value());
  EXPECT_EQ(client_.get("balance"), "500");
}

TEST_F(RedisApi, TransactionWithARefusedCommandThrowsAndExecutesNothing) {
  EXPECT_THROW(client_.transaction(
                   [](redis::Transaction& tx) { tx.queue("SET", "t", 1).queue("NOSUCHCOMMAND"); }),
               ServerError);
  EXPECT_EQ(client_.get("t"), std::nullopt);
  EXPECT_EQ(client_.command("PING").as_string(), "PONG");
}

TEST_F(RedisApi, WithConnectionKeepsOneConnectionForTheWholeCall) {
  const auto ids = client_.with_connection([](redis::Connection& connection) {
    return std::make_pair(connection.command("CLIENT", "ID").as_integer(),
                          connection.command("CLIENT", "ID").as_integer());
  });
  EXPECT_EQ(ids.first, ids.second);
  client_.with_connection([](redis::Connection& connection) {
    connection.append(std::vector<redis::Arg>{"SET", "w", "1"});
    connection.append(std::vector<redis::Arg>{"GET", "w"});
    connection.flush();
    EXPECT_EQ(connection.read_reply().as_string(), "OK");
    EXPECT_EQ(connection.read_reply().as_string(), "1");
  });
}

TEST_F(RedisApi, AConnectionLeftWithUnreadRepliesIsNotReused) {
  const std::string answer = client_.with_connection([](redis::Connection& connection) {
    connection.append(std::vector<redis::Arg>{"PING"});
    connection.flush();  // PING's reply is read as ECHO's, and ECHO's is left unread
    return connection.command("ECHO", "hello").as_string();
  });
  EXPECT_EQ(answer, "PONG");
  EXPECT_EQ(client_.command("PING").as_string(), "PONG");
  const auto stats = client_.stats();
  EXPECT_EQ(stats.pool.closed_by(CloseReason::error), 1u);
  EXPECT_EQ(stats.pool_clears, 0u);
}

TEST_F(RedisApi, PingReturnsALatencyAndInfoIsParsedBySection) {
  const auto latency = client_.ping();
  EXPECT_GT(latency.count(), 0);
  EXPECT_LT(latency, 2s);
  const redis::Info info = client_.info();
  EXPECT_TRUE(info.get("server", "redis_version").has_value());
  ASSERT_TRUE(info.get("clients", "connected_clients").has_value());
  EXPECT_GE(std::stoi(std::string(*info.get("clients", "connected_clients"))), 1);
  EXPECT_TRUE(info.find("used_memory").has_value());
  EXPECT_TRUE(info.find("keyspace_hits").has_value());
  const redis::Info memory = client_.info("memory");
  EXPECT_TRUE(memory.get("memory", "used_memory").has_value());
  EXPECT_FALSE(memory.get("server", "redis_version").has_value());
}

TEST_F(RedisApi, StatsCountCommandsByNameAndOutcome) {
  client_.set("m", "1");
  client_.get("m");
  client_.get("m");
  EXPECT_THROW(client_.command("HGET", "m", "f"), ServerError);
  EXPECT_THROW(client_.command("not-a-name!", "x"), ServerError);
  const auto stats = client_.stats();
  auto count = [&](std::string_view name, std::string_view outcome) {
    for (const auto& op : stats.commands) {
      if (op.name == name && op.outcome == outcome) return op.count;
    }
    return std::uint64_t{0};
  };
  EXPECT_EQ(count("GET", "ok"), 2u);
  EXPECT_EQ(count("SET", "ok"), 1u);
  EXPECT_EQ(count("HGET", "server"), 1u);
  EXPECT_EQ(count("OTHER", "server"), 1u);
  EXPECT_EQ(stats.pool.name, "redis");
  EXPECT_GE(stats.pool.created, 1u);
}

}  // namespace
}  // namespace poolkit::test
