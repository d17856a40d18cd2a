// The Redis layer's pure logic, without a server: which commands may be repeated after they
// were written (the retry rule), and INFO parsing.

#include <gtest/gtest.h>

#include <vector>

#include "poolkit/redis.hpp"

namespace poolkit {
namespace {

using Command = std::vector<redis::Arg>;

bool idempotent(const Command& command) {
  return redis::is_idempotent(command);
}

TEST(RedisIdempotence, ReadsAndOverwritesRepeatSafely) {
  EXPECT_TRUE(idempotent({"GET", "k"}));
  EXPECT_TRUE(idempotent({"MGET", "a", "b"}));
  EXPECT_TRUE(idempotent({"SET", "k", "v", "EX", 10}));
  EXPECT_TRUE(idempotent({"SET", "k", "v", "XX"}));
  EXPECT_TRUE(idempotent({"DEL", "k"}));
  EXPECT_TRUE(idempotent({"HSET", "h", "f", "v"}));
  EXPECT_TRUE(idempotent({"EXPIRE", "k", 5}));
  EXPECT_TRUE(idempotent({"ZADD", "z", 1, "m"}));
}

TEST(RedisIdempotence, CommandNamesAndOptionsAreCaseInsensitive) {
  EXPECT_TRUE(idempotent({"get", "k"}));
  EXPECT_TRUE(idempotent({"SeT", "k", "v"}));
  EXPECT_FALSE(idempotent({"set", "k", "v", "nx"}));
  EXPECT_FALSE(idempotent({"set", "k", "v", "Get"}));
  EXPECT_FALSE(idempotent({"zadd", "z", "incr", 1, "m"}));
}

TEST(RedisIdempotence, CountersPushesAndConditionalWritesDoNot) {
  EXPECT_FALSE(idempotent({"SET", "k", "v", "NX"}));
  EXPECT_FALSE(idempotent({"SET", "k", "v", "GET"}));
  EXPECT_FALSE(idempotent({"INCR", "k"}));
  EXPECT_FALSE(idempotent({"INCRBY", "k", 2}));
  EXPECT_FALSE(idempotent({"LPUSH", "l", "x"}));
  EXPECT_FALSE(idempotent({"RPOP", "l"}));
  EXPECT_FALSE(idempotent({"ZADD", "z", "INCR", 1, "m"}));
}

TEST(RedisIdempotence, AnEmptyOrUnknownCommandIsNeverRepeated) {
  EXPECT_FALSE(idempotent({}));
  EXPECT_FALSE(idempotent({"NOSUCHCOMMAND", "k"}));
  EXPECT_FALSE(idempotent({""}));
  EXPECT_FALSE(idempotent({12}));
}

TEST(RedisInfo, ParsesSectionsAndKeysAndSkipsLinesWithoutAColon) {
  const auto info = redis::parse_info(
      "# Server\r\nredis_version:7.0.15\r\n\r\n# Clients\r\n"
      "connected_clients:3\r\nweird line\r\n");
  EXPECT_EQ(info.get("server", "redis_version"), "7.0.15");
  EXPECT_EQ(info.get("clients", "connected_clients"), "3");
  EXPECT_EQ(info.find("connected_clients"), "3");
  EXPECT_EQ(info.find("weird line"), std::nullopt);
  EXPECT_EQ(info.get("server", "connected_clients"), std::nullopt);
  EXPECT_EQ(info.get("memory", "used_memory"), std::nullopt);
}

TEST(RedisInfo, SectionNamesAreLowerCaseAndValuesKeepTheirColons) {
  const auto info = redis::parse_info(
      "# Keyspace\ndb0:keys=1,expires=0,avg_ttl=0\n# CPU\nused_cpu_sys:0.5\n"
      "executable:/usr/bin/redis-server\nconfig_file:C:\\redis.conf\n");
  EXPECT_EQ(info.get("keyspace", "db0"), "keys=1,expires=0,avg_ttl=0");
  EXPECT_EQ(info.get("cpu", "used_cpu_sys"), "0.5");
  EXPECT_EQ(info.get("cpu", "config_file"), "C:\\redis.conf");
  EXPECT_EQ(info.get("Keyspace", "db0"), std::nullopt);
}

TEST(RedisInfo, KeysBeforeAnySectionAndEmptyTextAreKept) {
  EXPECT_TRUE(redis::parse_info("").sections.empty());
  EXPECT_TRUE(redis::parse_info("\r\n\r\n").sections.empty());
  const auto info = redis::parse_info("role:master\r\n");
  EXPECT_EQ(info.get("", "role"), "master");
  EXPECT_EQ(info.find("role"), "master");
}

// A server (or something posing as one) may send any text: a bare "#" or a header of only
// spaces must not throw std::out_of_range.
TEST(RedisInfo, AHeaderWithoutANameIsAnUnnamedSection) {
  const auto info = redis::parse_info("#\r\nkey:1\r\n#   \r\nother:2\r\n");
  EXPECT_EQ(info.find("key"), "1");
  EXPECT_EQ(info.find("other"), "2");
}

TEST(RedisInfo, TheLastValueOfARepeatedKeyWins) {
  const auto info = redis::parse_info("# Stats\r\nhits:1\r\nhits:2\r\n");
  EXPECT_EQ(info.get("stats", "hits"), "2");
}

}  // namespace
}  // namespace poolkit
