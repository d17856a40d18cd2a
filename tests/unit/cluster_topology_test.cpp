// What a cluster says about itself, parsed without a server: CLUSTER SHARDS and CLUSTER SLOTS
// replies, MOVED / ASK redirects, and each node's URL derived from the seed list.

#include <gtest/gtest.h>

#include "redis/cluster/topology.hpp"

namespace poolkit::redis::detail {
namespace {

Reply text(std::string value) {
  return Reply::string(std::move(value));
}

Reply shard_node(std::string ip, long long port, std::string role, std::string health) {
  return Reply::array({text("id"), text("abc"), text("port"), Reply::integer(port), text("ip"),
                       text(ip), text("endpoint"), text(ip), text("role"), text(std::move(role)),
                       text("replication-offset"), Reply::integer(1), text("health"),
                       text(std::move(health))});
}

TEST(ClusterTopology, ShardsGiveEachMasterItsSlotsAndHealthyReplicas) {
  const Reply reply = Reply::array({
      Reply::array({text("slots"), Reply::array({Reply::integer(0), Reply::integer(5460)}),
                    text("nodes"),
                    Reply::array({shard_node("127.0.0.1", 7000, "master", "online"),
                                  shard_node("127.0.0.1", 7003, "replica", "online"),
                                  shard_node("127.0.0.1", 7006, "replica", "fail")})}),
      // A failed master next to the replica promoted in its place: the promoted one serves.
      Reply::array({text("slots"),
                    Reply::array({Reply::integer(5461), Reply::integer(10922),
                                  Reply::integer(16000), Reply::integer(16383)}),
                    text("nodes"),
                    Reply::array({shard_node("127.0.0.1", 7001, "master", "fail"),
                                  shard_node("", 7004, "master", "online")})}),
      // A master without slots serves nothing.
      Reply::array({text("slots"), Reply::array({}), text("nodes"),
                    Reply::array({shard_node("127.0.0.1", 7009, "master", "online")})}),
  });
  const auto shards = parse_cluster_shards(reply, "10.0.0.9");
  ASSERT_EQ(shards.size(), 2u);
  EXPECT_EQ(shards[0].master, (NodeAddress{"127.0.0.1", 7000}));
  ASSERT_EQ(shards[0].replicas.size(), 1u);
  EXPECT_EQ(shards[0].replicas[0].port, 7003);
  EXPECT_EQ(shards[1].master, (NodeAddress{"10.0.0.9", 7004})) << "no address: the node asked";
  ASSERT_EQ(shards[1].slots.size(), 2u);
  EXPECT_EQ(shards[1].slots[1].first, 16000);
  EXPECT_EQ(shards[1].slots[1].last, 16383);
}

// A node listening on both ports: a rediss:// client takes the TLS one, a plain one the other.
TEST(ClusterTopology, ATlsClientTakesTheTlsPort) {
  const Reply node = Reply::array({text("port"), Reply::integer(7000), text("tls-port"),
                                   Reply::integer(8000), text("ip"), text("127.0.0.1"),
                                   text("role"), text("master"), text("health"), text("online")});
  const Reply tls_only = Reply::array(
      {text("port"), Reply::integer(0), text("tls-port"), Reply::integer(8001), text("ip"),
       text("127.0.0.1"), text("role"), text("replica"), text("health"), text("online")});
  const Reply reply = Reply::array(
      {Reply::array({text("slots"), Reply::array({Reply::integer(0), Reply::integer(16383)}),
                     text("nodes"), Reply::array({node, tls_only})})});
  EXPECT_EQ(parse_cluster_shards(reply, "h", true)[0].master.port, 8000);
  EXPECT_EQ(parse_cluster_shards(reply, "h", false)[0].master.port, 7000);
  EXPECT_EQ(parse_cluster_shards(reply, "h", false)[0].replicas.at(0).port, 8001);
}

TEST(ClusterTopology, SlotsReplyOfOlderServers) {
  const Reply reply = Reply::array(
      {Reply::array({Reply::integer(0), Reply::integer(100),
                     Reply::array({text("127.0.0.1"), Reply::integer(7000), text("id1")}),
                     Reply::array({text("::1"), Reply::integer(7003), text("id2")})})});
  const auto shards = parse_cluster_slots(reply, "127.0.0.1");
  ASSERT_EQ(shards.size(), 1u);
  EXPECT_EQ(shards[0].master.port, 7000);
  ASSERT_EQ(shards[0].replicas.size(), 1u);
  EXPECT_EQ(shards[0].replicas[0].text(), "[::1]:7003");
}

TEST(ClusterTopology, MalformedRepliesAreProtocolErrors) {
  EXPECT_ANY_THROW(parse_cluster_shards(Reply::status("OK"), "h"));
  EXPECT_ANY_THROW(parse_cluster_slots(
      Reply::array({Reply::array({Reply::integer(0), Reply::integer(99999),
                                  Reply::array({text("h"), Reply::integer(1)})})}),
      "h"));
}

TEST(ClusterTopology, RedirectsNameTheSlotAndTheTarget) {
  const auto moved = parse_redirect("MOVED 3999 127.0.0.1:6381", "x");
  ASSERT_TRUE(moved.has_value());
  EXPECT_EQ(moved->kind, Redirect::Kind::moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->target, (NodeAddress{"127.0.0.1", 6381}));
  const auto ask = parse_redirect("ASK 12 [::1]:7000 (Redis at redis://h:1/0, command GET)", "x");
  ASSERT_TRUE(ask.has_value());
  EXPECT_EQ(ask->kind, Redirect::Kind::ask);
  EXPECT_EQ(ask->target, (NodeAddress{"::1", 7000}));
  EXPECT_EQ(parse_redirect("MOVED 5 :7001", "10.1.1.1")->target.host, "10.1.1.1");
  EXPECT_FALSE(parse_redirect("MOVED 16384 h:1", "x").has_value());
  EXPECT_FALSE(parse_redirect("WRONGTYPE Operation against a key", "x").has_value());
  EXPECT_FALSE(parse_redirect("MOVED 1 h:99999", "x").has_value());
  EXPECT_TRUE(is_retry_later("TRYAGAIN Multiple keys request during rehashing of slot"));
  EXPECT_TRUE(is_retry_later("CLUSTERDOWN The cluster is down"));
  EXPECT_FALSE(is_retry_later("ERR unknown command"));
}

TEST(ClusterTopology, EachNodesUrlKeepsCredentialsDatabaseAndOptions) {
  const Url seeds = parse_url("redis://app:p%40ss@h1:7000,h2:7001,[::1]:7002/3?db=3");
  const Url one = url_for_node(seeds, NodeAddress{"10.0.0.5", 7005});
  ASSERT_EQ(one.hosts.size(), 1u);
  EXPECT_EQ(one.hosts[0].name, "10.0.0.5");
  EXPECT_EQ(one.hosts[0].port, 7005);
  EXPECT_EQ(one.username, "app");
  EXPECT_EQ(one.password, "p@ss");
  EXPECT_EQ(one.path, "/3");
  EXPECT_EQ(one.query_value("db"), "3");
  const Url v6 = url_for_node(parse_url("redis://h1:7000"), NodeAddress{"::1", 7002});
  EXPECT_EQ(v6.hosts[0].name, "::1");
}

}  // namespace
}  // namespace poolkit::redis::detail
