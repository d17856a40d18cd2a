#pragma once
// ClusterClient's state and its routing core, shared by cluster_client.cpp (single commands,
// topology) and cluster_batches.cpp (pipelines, split multi-key commands, transactions).

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "command_keys.hpp"
#include "poolkit/backoff.hpp"
#include "poolkit/operation_stats.hpp"
#include "poolkit/redis_cluster.hpp"
#include "slot_map.hpp"

namespace poolkit::redis {

struct ClusterClient::Impl {
  using Clock = std::chrono::steady_clock;

  // What goes before the command in the same write: ASKING after an ASK redirect, READONLY on
  // a replica (it then serves reads of its master's slots instead of redirecting them).
  enum class Prefix { none, asking, readonly };

  // Where a routed command starts: the slot's master (or a replica for a read, as read_from
  // says), or a given node (after ASK, with ASKING).
  struct Start {
    std::shared_ptr<detail::ClusterNode> node;
    Prefix prefix = Prefix::none;
    int redirects_used = 0;
    bool read = false;  // read-only: may go to a replica
  };

  // How long reads pass over a replica that failed: about a cluster-node-timeout, after which
  // the cluster has marked it failed (and the map dropped it) or it is back.
  static constexpr std::chrono::seconds kReplicaQuarantine{1};

  Impl(RedisSettings seeds, ClusterOptions options);

  std::shared_ptr<const detail::SlotMap> current_map() const;
  // The node at `address`, from the map or the registry, created when new (a MOVED/ASK target
  // the map does not know yet).
  std::shared_ptr<detail::ClusterNode> node_at(const detail::NodeAddress& address);
  // Reads the slot map from the first node that answers (the map's nodes, then the seeds).
  // Unless forced, does nothing when the last refresh is younger than min_refresh_interval;
  // concurrent callers wait for the one refresh in progress.
  void refresh(bool force);
  // The map, read first if there is none yet; throws ConnectError when no node gives one.
  std::shared_ptr<const detail::SlotMap> ensure_map();
  // The last refresh's failure: a TlsError when TLS was all that failed, else a ConnectError.
  [[noreturn]] void throw_refresh_error() const;
  void note_moved(std::uint16_t slot, const detail::NodeAddress& target);

  // One command on its slot's owner (or any master when slot is nullopt), following MOVED and
  // ASK, waiting out TRYAGAIN/CLUSTERDOWN and failed nodes within the retry budget. Returns the
  // reply, an error reply included; throws the node's transport errors when they may not or
  // can no longer be retried, and ServerError after too many redirects.
  Reply run_routed(std::span<const Arg> args, std::optional<std::uint16_t> slot, Start start);
  // The command on one connection of `node` (ASKING first when asked). `entered`: a connection
  // was leased, so the error's may_have_run() is the command's.
  Reply send(detail::ClusterNode& node, std::span<const Arg> args, Prefix prefix, bool& entered);
  // The node for `slot` in `map`: its master, or for a read one of its replicas (round robin)
  // as read_from says; `prefix` becomes readonly for a replica (the caller counts the reads).
  // nullptr when none serves it.
  std::shared_ptr<detail::ClusterNode> choose(const detail::SlotMap& map,
                                              std::optional<std::uint16_t> slot, bool read,
                                              bool replica_failed, Prefix& prefix);
  // Several commands on one connection of `node`, one reply each (READONLY first for a
  // replica), counted in the node's metrics as one operation called `name`.
  std::vector<Reply> send_batch(detail::ClusterNode& node,
                                const std::vector<std::vector<std::string>>& commands,
                                Prefix prefix, std::string_view name, bool& entered);

  // Any command: routed, split by slot when its keys span slots and it may be split, refused
  // before sending otherwise. Throws ServerError on an error reply.
  Reply execute(std::span<const Arg> args);
  Reply execute_split(std::span<const Arg> args, const detail::CommandRouting& routing);
  // Pipelined commands, grouped per node, replies in order (error replies in place). Each
  // node's part counts in its metrics as one `name` (PIPELINE, or the split command's name).
  std::vector<Reply> execute_batch(const std::vector<std::vector<std::string>>& commands,
                                   std::string_view name = "PIPELINE");

  [[noreturn]] void throw_reply_error(const Reply& reply, std::span<const Arg> args,
                                      const std::string& node) const;
  [[noreturn]] void throw_cross_slot(std::span<const Arg> args, std::string_view why) const;
  std::chrono::milliseconds delay(int attempt) const { return backoff.delay(attempt); }

  RedisSettings node_settings;  // the seeds' settings; each node's URL is derived from them
  Options node_options;
  ClusterOptions options;
  std::chrono::milliseconds retry_budget;
  std::vector<detail::NodeAddress> seeds;
  std::string seeds_text;  // for messages

  mutable std::mutex map_mutex;  // guards map and registry
  std::shared_ptr<const detail::SlotMap> map;
  std::map<detail::NodeAddress, std::shared_ptr<detail::ClusterNode>> registry;

  std::mutex refresh_mutex;  // one refresh at a time
  Clock::time_point last_refresh{};
  std::string last_refresh_error;  // why the last refresh found no map (guarded as above)
  bool last_refresh_tls = false;   // ... because every node refused the TLS handshake
  std::atomic<bool> closed{false};

  OperationStats operations;
  Backoff backoff{.base = std::chrono::milliseconds(10),
                  .cap = std::chrono::milliseconds(200),
                  .jitter = std::chrono::milliseconds(0),
                  .jitter_ratio = 0.5};
  std::atomic<std::uint64_t> next_replica{0};  // round robin over a shard's replicas
  std::atomic<std::uint64_t> refreshes{0}, moved{0}, asked{0}, try_again{0}, node_failures{0},
      split_commands{0}, replica_reads{0};
};

}  // namespace poolkit::redis
