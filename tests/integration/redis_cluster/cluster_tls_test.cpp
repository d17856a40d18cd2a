// ClusterClient over TLS: a 6-node cluster with TLS only on every port, the cluster bus and
// replication (tls-cluster, tls-replication), reached through rediss:// seeds. Commands on every
// slot, a MOVED followed, the announced ports the TLS ones, each node's client on TLS, and a
// wrong CA refused with a TlsError naming the node.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "../../../src/redis/cluster/key_slot.hpp"
#include "cluster_test_support.hpp"
#include "poolkit/error.hpp"

namespace poolkit {
namespace {

using namespace cluster_testing;
using redis::ClusterClient;

redis::ClusterOptions tls_options(const std::filesystem::path& ca) {
  auto options = quick_options();
  options.node.tls.ca_file = ca.string();
  return options;
}

TEST(ClusterTls, CommandsOnEverySlotAndAMovedFollowedOverTls) {
  local::RedisCluster cluster({.password = test_secret(), .tls = true});
  ASSERT_TRUE(cluster.seed_url().starts_with("rediss://"));
  ClusterClient redis(cluster.seed_url(), tls_options(local::TestCa::shared().ca_file()));
  for (int i = 0; i < 300; ++i) {
    const std::string key = fmt::format("tls:{}", i);
    ASSERT_TRUE(redis.set(key, key));
    ASSERT_EQ(redis.get(key), key);
  }
  // The map's nodes are the nodes' TLS ports (the only ones they listen on), and every node
  // used was reached through TLS.
  std::set<int> ports;
  for (std::size_t i = 0; i < cluster.size(); ++i) ports.insert(cluster.node(i).port());
  std::size_t used = 0;
  for (const redis::ClusterNodeStats& node : redis.stats().nodes) {
    const int port = std::stoi(node.address.substr(node.address.rfind(':') + 1));
    EXPECT_TRUE(ports.contains(port)) << node.address << " is not a node's TLS port";
    if (!node.has_pool) continue;
    ++used;
    EXPECT_GT(node.client.tls_full_handshakes + node.client.tls_resumed_handshakes, 0u)
        << node.address << " was not reached through TLS";
  }
  EXPECT_GE(used, 3u) << "the keys did not reach every master";

  // An empty slot moved by hand to another master: the client's next command meets MOVED.
  const std::string key = "tls-moved";
  const int slot = redis::detail::key_slot(key);
  const auto from = cluster.master_of_slot(slot);
  ASSERT_TRUE(from.has_value());
  const auto masters = masters_of(cluster);
  const std::size_t to = *from == masters[0] ? masters[1] : masters[0];
  EXPECT_EQ(redis.get(key), std::nullopt);  // the map says `from`
  migrate_slot(cluster, slot, *from, to, {}, true, true, masters);
  const auto moved_before = redis.stats().moved;
  ASSERT_TRUE(redis.set(key, "here"));
  EXPECT_GE(redis.stats().moved, moved_before + 1) << "no MOVED was followed";
  EXPECT_EQ(redis.master_address(static_cast<std::uint16_t>(slot)),
            fmt::format("127.0.0.1:{}", cluster.node(to).port()));
  EXPECT_EQ(admin(cluster, to)->get(key), "here");
}

TEST(ClusterTls, AWrongCaIsATlsErrorNamingTheNode) {
  local::RedisCluster cluster({.password = test_secret(), .tls = true});
  ClusterClient redis(cluster.seed_url(), tls_options(local::TestCa::shared().other_ca_file()));
  try {
    redis.get("k");
    FAIL() << "a certificate from another CA was accepted";
  } catch (const TlsError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(fmt::format("127.0.0.1:{}", cluster.node(0).port())), std::string::npos)
        << message;
    EXPECT_EQ(message.find(test_secret()), std::string::npos) << "the password leaked";
  }
}

}  // namespace
}  // namespace poolkit
