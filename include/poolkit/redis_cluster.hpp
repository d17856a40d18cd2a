#pragma once
// Redis Cluster (REDIS_MODE=cluster): keys sharded over several masters by slot.
//
//   poolkit::redis::ClusterClient redis(settings.redis);   // REDIS_URL lists seed nodes
//   redis.set("{user42}.cart", "3 items");
//   auto values = redis.mget({"a", "b", "c"});             // split by slot, replies in order
//
// The client learns the slot map from the seed nodes (CLUSTER SHARDS, or CLUSTER SLOTS on
// servers before 7.0) and keeps one bounded pooled redis::Client per node, opened when a
// command first goes there and closed when the node leaves the map. REDIS_MAX_CONNECTIONS bounds
// each node's pool, as in redis-py's RedisCluster.
//
// What is followed and retried (docs/redis.md "Cluster"):
//   MOVED       the map is updated and the command goes to the slot's owner;
//   ASK         ASKING and the command on one connection of the target, map unchanged;
//   TRYAGAIN,   (a slot migrating, a failover in progress) the call backs off and tries again
//   CLUSTERDOWN until its retry budget is spent;
//   a failed node: the map is refreshed (at most once per min_refresh_interval, so a dead node
//               cannot cause a refresh storm) and the command is tried again when nothing of it
//               was written, or when it is idempotent (redis::is_idempotent), as redis::Client
//               does for one server.
// At most max_redirects MOVED/ASK per call, then a ServerError naming the slot and the nodes.
//
// Multi-key commands whose keys span slots are split by slot, sent to the owners in one
// pipeline per node, and put back together for MGET (values in the caller's order), DEL, UNLINK,
// EXISTS, TOUCH (counts added up) and MSET (every part OK). They are not atomic across slots any
// more, which is harmless for these: each part is independent. MSETNX is never split: its "all
// or nothing" promise cannot hold across nodes, so keys in several slots are an error, as for a
// transaction, a script (EVAL, EVALSHA, FCALL) and every other multi-key command. Those errors
// are raised before anything is sent.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/redis.hpp"

namespace poolkit::redis {

struct ClusterOptions {
  // Every node's client (max_connections is per node); fields RedisSettings holds are taken
  // from the settings by the settings constructor.
  Options node{};
  // MOVED and ASK followed in one call before giving up.
  int max_redirects = 5;
  // How long one call keeps retrying TRYAGAIN, CLUSTERDOWN and failed nodes (with backoff);
  // 0: the node options' socket_timeout (REDIS_SOCKET_TIMEOUT).
  std::chrono::milliseconds retry_budget{0};
  // REDIS_READ_FROM: where single read-only commands go (replicas get READONLY in the same
  // write as the command). `replica`: only replicas (an error when a shard has none);
  // `replica_preferred`: a replica, or the master when there is none or the replica failed.
  // Writes, pipelines, split commands and transactions always go to masters.
  RedisReadFrom read_from = RedisReadFrom::master;
  // Topology refreshes are at least this far apart; callers needing one meanwhile wait for the
  // refresh in progress or use the current map.
  std::chrono::milliseconds min_refresh_interval{100};
};

struct ClusterNodeStats {
  std::string address;    // host:port
  std::string role;       // "master" or "replica"
  std::size_t slots = 0;  // slots it serves as master
  bool has_pool = false;  // a client (pool) has been opened for it
  ClientStats client{};   // its pool and commands; empty when has_pool is false
};

struct ClusterStats {
  std::vector<ClusterNodeStats> nodes;      // every node of the current map, masters first
  std::vector<OperationSnapshot> commands;  // by command name and outcome, whole cluster
  std::uint64_t topology_refreshes = 0;     // slot maps read from a node
  std::uint64_t moved = 0;                  // MOVED redirects followed
  std::uint64_t ask = 0;                    // ASK redirects followed
  std::uint64_t try_again = 0;              // TRYAGAIN and CLUSTERDOWN waited out
  std::uint64_t node_failures = 0;          // calls that met a failed node
  std::uint64_t split_commands = 0;         // multi-key commands split by slot
  std::uint64_t replica_reads = 0;          // reads sent to a replica (REDIS_READ_FROM)
};

// What ClusterClient::health() saw of one node.
struct ClusterNodeHealth {
  std::string address;
  std::string role;  // "master" or "replica", as the map says
  std::size_t slots = 0;
  bool ok = false;  // answered PING
  std::chrono::microseconds latency{0};
  std::string error{};  // why not, when !ok (never a secret)
  PoolStats pool{};     // its pool, opened for the check when it was not yet
};

struct ClusterHealth {
  std::string cluster_state;     // CLUSTER INFO's cluster_state ("ok", "fail"), from a master
  std::size_t slots_served = 0;  // slots the map gives a master
  std::vector<ClusterNodeHealth> nodes;  // masters first
  // The cluster says ok, every slot has a master, and every master answers.
  bool ok() const noexcept;
};

class ClusterClient;

// Handed to ClusterClient::transaction()'s body: as redis::Transaction, but every key it reads
// or queues must hash to the transaction's slot (ServerError otherwise, before it is sent).
class ClusterTransaction {
 public:
  Reply command(std::span<const Arg> args);
  template <class... Args>
  requires(std::constructible_from<Arg, const Args&>&&...) Reply command(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return command(std::span<const Arg>(argv));
  }
  ClusterTransaction& queue(std::span<const Arg> args);
  template <class... Args>
  requires(std::constructible_from<Arg, const Args&>&&...)
      ClusterTransaction& queue(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return queue(std::span<const Arg>(argv));
  }

 private:
  friend class ClusterClient;
  ClusterTransaction(Connection& connection, std::uint16_t slot, std::string node)
      : connection_(&connection), slot_(slot), node_(std::move(node)) {}
  void require_slot(std::span<const Arg> args) const;

  Connection* connection_;
  std::uint16_t slot_;
  std::string node_;
  std::vector<std::vector<std::string>> queued_;
};

// Commands for several slots: sent as one pipeline per node, replies in the order added. Error
// replies take their place (they are not thrown); MOVED and ASK replies are followed first.
// Commands to different nodes run in no particular order relative to each other.
class ClusterPipeline {
 public:
  explicit ClusterPipeline(ClusterClient& client) : client_(&client) {}
  ClusterPipeline& add(std::span<const Arg> args);
  template <class... Args>
  requires(std::constructible_from<Arg, const Args&>&&...)
      ClusterPipeline& add(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return add(std::span<const Arg>(argv));
  }
  std::size_t size() const noexcept { return commands_.size(); }
  std::vector<Reply> execute();

 private:
  ClusterClient* client_;
  std::vector<std::vector<std::string>> commands_;
};

class ClusterClient : public Commands<ClusterClient> {
 public:
  // redis://[user:password@]h1:p1,h2:p2/0: the seed nodes (any of them; one is enough).
  explicit ClusterClient(std::string_view url, ClusterOptions options = {});
  // REDIS_URL and every REDIS_* variable (REDIS_READ_FROM included).
  explicit ClusterClient(const RedisSettings& settings, ClusterOptions options = {});
  ~ClusterClient();
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  // Any command, routed by its keys (a command without keys goes to a master). Throws as
  // redis::Client does: ServerError on an error reply, ConnectError, TimeoutError, ...
  Reply command(std::span<const Arg> args);
  using Commands<ClusterClient>::command;  // command("GET", key), ... (redis_commands.hpp)

  // get, set, del, mget, the hash, list and set helpers: redis_commands.hpp.

  ClusterPipeline pipeline() { return ClusterPipeline(*this); }

  // MULTI ... EXEC on the node owning `key`'s slot (write {tag} keys to keep them together);
  // every key watched, read or queued must be in that slot. Returns nullopt when a watched key
  // changed. When the slot moved before EXEC (MOVED, nothing executed), the map is updated and
  // the whole transaction, body included, runs again on the new owner.
  std::optional<std::vector<Reply>> transaction(
      std::string_view key, const std::function<void(ClusterTransaction&)>& body,
      std::span<const std::string> watch = {});
  // The slot is that of the watched keys (at least one).
  std::optional<std::vector<Reply>> transaction(
      const std::function<void(ClusterTransaction&)>& body, std::span<const std::string> watch);

  // Reads the slot map now (bypassing the rate limit); throws ConnectError when no node answers.
  void refresh_topology();
  // The master serving `slot` in the current map, as host:port.
  std::string master_address(std::uint16_t slot) const;
  ClusterStats stats() const;
  // Reads the map again, PINGs every node and asks a master for cluster_state.
  ClusterHealth health();
  // Closes every node's pool; later calls throw PoolClosedError.
  void close();

 private:
  friend class ClusterPipeline;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolkit::redis
