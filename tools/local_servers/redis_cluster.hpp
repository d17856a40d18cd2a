#pragma once
// Multi-node Redis deployments on loopback for the cluster and sentinel tests (and a
// `poolkit demo --cluster`): real redis-server processes, made into a cluster with
// `redis-cli --cluster create`, or a master, its replica and three sentinels watching them.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "local_servers/process.hpp"
#include "local_servers/servers.hpp"

namespace poolkit::local {

// What a command-line tool printed, and how it exited.
struct ToolRun {
  int status = -1;  // exit status; -1 when it did not finish in time (it is then killed)
  std::string output;
};
// Runs argv (stdout and stderr together) with `environment` added, for at most `timeout`.
ToolRun run_tool(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
                 std::chrono::milliseconds timeout);

// A port p such that p and p + 10000 (the cluster bus) are both free on 127.0.0.1.
int free_cluster_port();

class RedisCluster {
 public:
  struct Options {
    int masters = 3;
    int replicas_per_master = 1;
    std::string password{};                 // requirepass and masterauth on every node
    std::vector<std::string> extra_args{};  // for every node
    int node_timeout_ms = 1000;             // cluster-node-timeout: how soon a failover starts
    // TLS only on every node's port, the cluster bus and replication too (tls-cluster,
    // tls-replication), certificates from TestCa::shared(); seed_url() is then rediss://.
    bool tls = false;
  };
  explicit RedisCluster(Options options);
  RedisCluster() : RedisCluster(Options{}) {}

  std::size_t size() const noexcept { return nodes_.size(); }
  RedisServer& node(std::size_t index) { return *nodes_.at(index); }
  // redis[s]://[:password@]127.0.0.1:p1,127.0.0.1:p2,.../0 — every node, as seeds. Holds the
  // password: never print it unredacted.
  std::string seed_url() const;
  bool tls() const noexcept { return options_.tls; }

  // `redis-cli -p <node's port> args...` (the password through REDISCLI_AUTH, never argv).
  ToolRun cli(std::size_t index, const std::vector<std::string>& args) const;
  // `redis-cli --cluster <args...>` (e.g. reshard, check), with the password the same way.
  ToolRun cluster_tool(const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = std::chrono::seconds(60)) const;
  // True once every running node reports cluster_state:ok and agrees on the slots.
  bool wait_until_ok(std::chrono::milliseconds timeout);
  // The node (index) that serves `slot` as master, from CLUSTER SHARDS/SLOTS on a running node.
  std::optional<std::size_t> master_of_slot(int slot) const;
  // The index of the node listening on `port`, if it is one of ours.
  std::optional<std::size_t> index_of_port(int port) const;

 private:
  Options options_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

// A master, one replica of it, and three sentinels watching it under one name (quorum 2,
// down-after-milliseconds 1000): a failover completes a few seconds after the master dies.
class RedisSentinelSet {
 public:
  struct Options {
    std::string master_name = "mymaster";
    std::string password{};  // the data nodes' (requirepass, masterauth, sentinel auth-pass)
    int down_after_ms = 1000;
    // TLS only on every port, data nodes and sentinels, replication and the sentinels' links
    // too (tls-replication), certificates from TestCa::shared(); sentinels_url() is rediss://.
    bool tls = false;
  };
  explicit RedisSentinelSet(Options options);
  RedisSentinelSet() : RedisSentinelSet(Options{}) {}

  RedisServer& master() { return *data_.at(0); }
  RedisServer& replica() { return *data_.at(1); }
  RedisServer& sentinel(std::size_t index) { return *sentinels_.at(index); }
  std::size_t sentinel_count() const noexcept { return sentinels_.size(); }
  const std::string& master_name() const noexcept { return options_.master_name; }
  // redis[s]://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3 — the sentinels, as seeds (no
  // password: the sentinels need none).
  std::string sentinels_url() const;
  // The port the sentinel at `index` names as the master now, from get-master-addr-by-name.
  std::optional<int> master_port_seen_by(std::size_t index) const;
  // True once the replica has synced with the master (master_link_status:up) and every
  // sentinel knows the replica and the other sentinels: only then do the sentinels agree to
  // fail over, and does a failover keep what the master acknowledged.
  bool wait_until_ready(std::chrono::milliseconds timeout);
  // SENTINEL FAILOVER on the sentinel at `index`: a coordinated failover, the master alive (the
  // replica is promoted, the old master made its replica). True when the sentinel accepted it.
  bool failover(std::size_t index = 0) const;

 private:
  ToolRun sentinel_cli(std::size_t index, const std::vector<std::string>& args) const;
  bool replica_in_sync() const;

  Options options_;
  std::vector<std::unique_ptr<RedisServer>> data_;  // [0] the first master, [1] its replica
  std::vector<std::unique_ptr<RedisServer>> sentinels_;
};

}  // namespace poolkit::local
