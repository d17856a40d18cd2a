// Each node's command metrics count what ran there by the command's own name and outcome, as
// the one-server client does: GET, SET, INCR (an error reply as "server"), PIPELINE, a split
// MGET as MGET, TRANSACTION; nothing as WITH_CONNECTION.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <map>

#include "cluster_test_support.hpp"
#include "poolkit/error.hpp"

namespace poolkit {
namespace {

using namespace cluster_testing;
using redis::ClusterClient;

// (name, outcome) -> count, summed over every node's pool.
std::map<std::pair<std::string, std::string>, std::uint64_t> node_commands(
    const redis::ClusterStats& stats) {
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts;
  for (const redis::ClusterNodeStats& node : stats.nodes) {
    for (const OperationSnapshot& command : node.client.commands) {
      counts[{command.name, command.outcome}] += command.count;
    }
  }
  return counts;
}

TEST(ClusterNodeMetrics, NodesCountCommandsByNameAndOutcome) {
  local::RedisCluster cluster({.password = test_secret()});
  ClusterClient redis(cluster.seed_url(), quick_options());
  std::vector<std::string> names;
  for (int i = 0; i < 30; ++i) names.push_back(fmt::format("metrics:{}", i));
  for (const auto& key : names) ASSERT_TRUE(redis.set(key, "text"));
  for (const auto& key : names) ASSERT_EQ(redis.get(key), "text");
  EXPECT_THROW(redis.incr(names[0]), ServerError) << "INCR of a non-number";
  auto pipeline = redis.pipeline();
  for (const auto& key : names) pipeline.add("GET", key);
  ASSERT_EQ(pipeline.execute().size(), names.size());
  ASSERT_EQ(redis.mget(names).size(), names.size());
  ASSERT_TRUE(redis.transaction(
      "{metrics}.a", [](redis::ClusterTransaction& tx) { tx.queue("SET", "{metrics}.a", "1"); }));

  const auto counts = node_commands(redis.stats());
  const auto count = [&](const char* name, const char* outcome) {
    const auto found = counts.find({name, outcome});
    return found == counts.end() ? std::uint64_t{0} : found->second;
  };
  EXPECT_EQ(count("SET", "ok"), 30u);
  EXPECT_EQ(count("GET", "ok"), 30u);
  EXPECT_EQ(count("INCR", "server"), 1u) << "an error reply is the server's outcome";
  // One pipeline and one split MGET: one operation per master they reached (3 masters).
  EXPECT_EQ(count("PIPELINE", "ok"), 3u);
  EXPECT_EQ(count("MGET", "ok"), 3u);
  EXPECT_EQ(count("TRANSACTION", "ok"), 1u);
  for (const auto& [key, value] : counts) {
    EXPECT_NE(key.first, "WITH_CONNECTION") << value << " counted without a name";
  }
  // The whole cluster's metrics are unchanged: one per call.
  std::uint64_t cluster_gets = 0;
  for (const OperationSnapshot& command : redis.stats().commands) {
    if (command.name == "GET" && command.outcome == "ok") cluster_gets += command.count;
  }
  EXPECT_EQ(cluster_gets, 30u);
}

}  // namespace
}  // namespace poolkit
