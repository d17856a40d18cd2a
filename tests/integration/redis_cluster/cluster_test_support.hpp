#pragma once
// Shared by the Redis Cluster tests: the run's password, one admin client per node (cluster
// commands the client under test must not be used for), and moving one slot by hand.

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "local_servers/redis_cluster.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/redis_cluster.hpp"

namespace poolkit::cluster_testing {

inline std::string test_secret() {
  const char* secret = std::getenv("POOLKIT_TEST_SECRET");
  return secret && *secret ? secret : "pkSecretStandIn7x9q";
}

// Short timeouts so that a test that goes wrong fails in seconds, not minutes.
inline redis::ClusterOptions quick_options(std::size_t per_node = 8) {
  redis::ClusterOptions options;
  options.node.max_connections = per_node;
  options.node.connect_timeout = std::chrono::milliseconds(500);
  options.node.socket_timeout = std::chrono::milliseconds(2000);
  options.node.wait_timeout = std::chrono::milliseconds(3000);
  options.node.client_name = "poolkit-cluster-test";
  return options;
}

// A plain client to one node, for CLUSTER SETSLOT, MIGRATE, CLIENT LIST, DBSIZE.
inline std::unique_ptr<redis::Client> admin(local::RedisCluster& cluster, std::size_t index) {
  redis::Options options;
  options.max_connections = 2;
  options.client_name = "poolkit-cluster-admin";
  if (cluster.tls()) options.tls.ca_file = local::TestCa::shared().ca_file().string();
  return std::make_unique<redis::Client>(cluster.node(index).url(), options);
}

inline std::string node_id(local::RedisCluster& cluster, std::size_t index) {
  return admin(cluster, index)->command("CLUSTER", "MYID").as_string();
}

// Moves `slot` from master `from` to master `to` the way redis-cli does, one step at a time:
// IMPORTING on the target, MIGRATING on the source, then each key in `keys_to_move` (all keys
// of the slot when empty), then (when `finish`) NODE on every master.
inline void migrate_slot(local::RedisCluster& cluster, int slot, std::size_t from, std::size_t to,
                         const std::vector<std::string>& keys_to_move, bool start, bool finish,
                         const std::vector<std::size_t>& masters) {
  auto source = admin(cluster, from);
  auto target = admin(cluster, to);
  const std::string source_id = node_id(cluster, from);
  const std::string target_id = node_id(cluster, to);
  if (start) {
    target->command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id);
    source->command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id);
  }
  std::vector<std::string> keys = keys_to_move;
  if (keys.empty()) {
    const redis::Reply listed = source->command("CLUSTER", "GETKEYSINSLOT", slot, 1000);
    for (const redis::Reply& key : listed.as_array()) keys.push_back(key.as_string());
  }
  if (!keys.empty()) {
    std::vector<std::string> args{"MIGRATE", "127.0.0.1",   std::to_string(cluster.node(to).port()),
                                  "",        "0",           "5000",
                                  "AUTH",    test_secret(), "KEYS"};
    args.insert(args.end(), keys.begin(), keys.end());
    source->command(std::span<const std::string>(args));
  }
  if (finish) {
    for (const std::size_t master : masters) {
      admin(cluster, master)->command("CLUSTER", "SETSLOT", slot, "NODE", target_id);
    }
  }
}

// The indexes of the current masters.
inline std::vector<std::size_t> masters_of(local::RedisCluster& cluster) {
  std::vector<std::size_t> masters;
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const std::string role = admin(cluster, i)->command("ROLE").as_array().front().as_string();
    if (role == "master") masters.push_back(i);
  }
  return masters;
}

// Waits until every replica has finished its first sync (master_link_status:up): a replica
// that never synced refuses to take over when its master dies. True when they all have.
inline bool wait_for_replicas(local::RedisCluster& cluster, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all_up = true;
    for (std::size_t i = 0; i < cluster.size() && all_up; ++i) {
      const auto info =
          redis::parse_info(admin(cluster, i)->command("INFO", "replication").as_string());
      all_up = info.get("replication", "role") != "slave" ||
               info.get("replication", "master_link_status") == "up";
    }
    if (all_up) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// The node replicating master `master` (INFO replication's master_port), if one does.
inline std::optional<std::size_t> replica_of(local::RedisCluster& cluster, std::size_t master) {
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const auto info =
        redis::parse_info(admin(cluster, i)->command("INFO", "replication").as_string());
    if (info.get("replication", "master_port") == std::to_string(cluster.node(master).port())) {
      return i;
    }
  }
  return std::nullopt;
}

// Replicas sync at once instead of after the default 5 s wait for more replicas to join.
inline std::vector<std::string> quick_sync_args() {
  return {"--repl-diskless-sync-delay", "0"};
}

// How many connections named `name` node `index` has.
inline std::size_t clients_named(local::RedisCluster& cluster, std::size_t index,
                                 const std::string& name) {
  const std::string list = admin(cluster, index)->command("CLIENT", "LIST").as_string();
  std::size_t count = 0;
  const std::string needle = " name=" + name + " ";
  for (auto at = list.find(needle); at != std::string::npos; at = list.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// A suite sharing one cluster (replicas that sync at once), made before its first test and
// stopped after its last: for tests that leave the cluster as they found it.
class SharedClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<local::RedisCluster>(
        local::RedisCluster::Options{.password = test_secret(), .extra_args = quick_sync_args()});
  }
  static void TearDownTestSuite() { cluster_.reset(); }
  static local::RedisCluster& cluster() { return *cluster_; }

 private:
  static inline std::unique_ptr<local::RedisCluster> cluster_;
};

}  // namespace poolkit::cluster_testing
