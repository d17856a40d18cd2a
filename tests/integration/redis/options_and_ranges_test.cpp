// A client built from a URL and Options alone, and the multi-key helpers fed from containers
// and views instead of braced lists, against a real redis-server.

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <ranges>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;

class RedisRanges : public SharedRedisServer {
 protected:
  redis::Client client_{server_->url(), {.max_connections = 4, .client_name = "pk-ranges"}};
};

TEST_F(RedisRanges, AClientFromAUrlUsesItsOptionsAndTheUrlsDatabase) {
  redis::Client on_db3(server_->url("/3"), {.max_connections = 2, .client_name = "pk-url"});
  on_db3.set("where", "db3");
  EXPECT_EQ(on_db3.get("where"), "db3");
  EXPECT_EQ(client_.get("where"), std::nullopt);  // database 0
  EXPECT_EQ(server_->count_clients("pk-url"), 1);
  EXPECT_EQ(on_db3.stats().pool.max_size, 2u);
}

TEST_F(RedisRanges, AWrongPasswordInTheUrlIsRefusedByTheServerNotTheOptions) {
  redis::Client wrong("redis://:not-the-password@127.0.0.1:" + std::to_string(server_->port()),
                      {.retry_attempts = 0});
  EXPECT_THROW(wrong.ping(), ServerError);
}

TEST_F(RedisRanges, KeyHelpersTakeVectorsArraysSetsAndViews) {
  const std::vector<std::string> keys{"a", "b", "c"};
  for (const auto& key : keys) client_.set(key, "v" + key);
  EXPECT_EQ(client_.exists(keys), 3);
  const std::array<std::string_view, 2> pair{"a", "missing"};
  EXPECT_EQ(client_.mget(pair), (std::vector<std::optional<std::string>>{"va", std::nullopt}));
  const std::set<std::string> ordered{"c", "b"};
  EXPECT_EQ(client_.mget(ordered), (std::vector<std::optional<std::string>>{"vb", "vc"}));
  EXPECT_EQ(client_.exists(keys | std::views::take(2)), 2);
  EXPECT_EQ(client_.del(ordered), 2);
  EXPECT_EQ(client_.exists(keys), 1);
  EXPECT_EQ(client_.del({"a"}), 1);  // braced lists still work
}

TEST_F(RedisRanges, WordsAViewMakesOnTheFlyOutliveTheCommand) {
  const std::vector<int> ids{1, 2, 3};
  auto keys = ids | std::views::transform([](int id) { return "user:" + std::to_string(id); });
  const std::vector<std::string> made(keys.begin(), keys.end());
  client_.mset(std::map<std::string, std::string>{{made[0], "x"}, {made[2], "z"}});
  EXPECT_EQ(client_.mget(keys), (std::vector<std::optional<std::string>>{"x", std::nullopt, "z"}));
  EXPECT_EQ(client_.del(keys), 2);
}

TEST_F(RedisRanges, PairHelpersTakeMapsAndVectorsOfPairs) {
  const std::map<std::string, std::string> fields{{"name", "ada"}, {"lang", "c++"}};
  EXPECT_EQ(client_.hset("h", fields), 2);
  const std::vector<std::pair<std::string_view, std::string_view>> more{{"name", "grace"},
                                                                        {"year", "1906"}};
  EXPECT_EQ(client_.hset("h", more), 1);  // one new field, one overwritten
  EXPECT_EQ(client_.hgetall("h"), (std::map<std::string, std::string>{
                                      {"name", "grace"}, {"lang", "c++"}, {"year", "1906"}}));
  EXPECT_EQ(client_.hdel("h", std::vector<std::string>{"lang", "absent"}), 1);
  client_.mset(more);
  EXPECT_EQ(client_.get("year"), "1906");
}

TEST_F(RedisRanges, ListAndSetHelpersTakeRanges) {
  const std::vector<std::string> values{"1", "2", "3"};
  EXPECT_EQ(client_.rpush("l", values), 3);
  EXPECT_EQ(client_.lpush("l", values | std::views::reverse), 6);
  EXPECT_EQ(client_.lrange("l", 0, -1), (std::vector<std::string>{"1", "2", "3", "1", "2", "3"}));
  const std::array<const char*, 3> members{"x", "y", "x"};
  EXPECT_EQ(client_.sadd("s", members), 2);
  EXPECT_EQ(client_.srem("s", std::set<std::string>{"x", "z"}), 1);
  EXPECT_EQ(client_.smembers("s"), std::vector<std::string>{"y"});
}

TEST_F(RedisRanges, AnEmptyRangeIsRefusedByTheServerAsAnyEmptyCommandWouldBe) {
  const std::vector<std::string> none;
  EXPECT_THROW(client_.del(none), ServerError);
}

}  // namespace
}  // namespace poolkit::test
