// ClusterClient::health(): the shape of the cluster as `poolkit check` shows it — each node's
// role, slots, reachability and pool — and the cluster's own verdict (cluster_state); stats()
// and close(), which walk the same nodes.

#include <algorithm>

#include "cluster_impl.hpp"
#include "poolkit/error.hpp"

namespace poolkit::redis {

using detail::ClusterNode;
namespace {

ClusterNodeHealth probe(ClusterNode& node, std::string role, std::size_t slots) {
  ClusterNodeHealth health{node.address().text(), std::move(role), slots, false, {}, {}, {}};
  try {
    Client& client = node.client();
    health.latency = client.ping();
    health.ok = true;
    health.pool = client.stats().pool;
  } catch (const Error& error) {
    health.error = error.what();
  }
  return health;
}

}  // namespace

bool ClusterHealth::ok() const noexcept {
  const bool masters_answer = std::all_of(nodes.begin(), nodes.end(), [](const auto& node) {
    return node.role != "master" || node.ok;
  });
  return cluster_state == "ok" && slots_served == detail::kClusterSlots && masters_answer;
}

ClusterHealth ClusterClient::health() {
  refresh_topology();
  const auto map = impl_->current_map();
  ClusterHealth health;
  for (std::size_t i = 0; i < map->shards().size(); ++i) {
    const std::size_t slots = map->slots_of(i);
    health.slots_served += slots;
    health.nodes.push_back(probe(*map->shards()[i].master, "master", slots));
  }
  for (const auto& shard : map->shards()) {
    for (const auto& replica : shard.replicas) {
      health.nodes.push_back(probe(*replica, "replica", 0));
    }
  }
  for (const auto& shard : map->shards()) {
    try {
      const Info info = parse_info(shard.master->client().command("CLUSTER", "INFO").as_string());
      health.cluster_state = std::string(info.find("cluster_state").value_or("unknown"));
      break;
    } catch (const Error&) {
      continue;  // the next master may answer
    }
  }
  if (health.cluster_state.empty()) health.cluster_state = "unknown (no master answered)";
  return health;
}

ClusterStats ClusterClient::stats() const {
  ClusterStats stats;
  const auto map = impl_->current_map();
  const auto describe = [&](const ClusterNode& node, std::string role, std::size_t slots) {
    ClusterNodeStats entry{node.address().text(), std::move(role), slots, false, {}};
    if (const Client* client = node.opened()) {
      entry.has_pool = true;
      entry.client = client->stats();
    }
    stats.nodes.push_back(std::move(entry));
  };
  for (std::size_t i = 0; i < map->shards().size(); ++i) {
    describe(*map->shards()[i].master, "master", map->slots_of(i));
  }
  for (const auto& shard : map->shards()) {
    for (const auto& replica : shard.replicas) describe(*replica, "replica", 0);
  }
  stats.commands = impl_->operations.snapshot();
  stats.topology_refreshes = impl_->refreshes.load();
  stats.moved = impl_->moved.load();
  stats.ask = impl_->asked.load();
  stats.try_again = impl_->try_again.load();
  stats.node_failures = impl_->node_failures.load();
  stats.split_commands = impl_->split_commands.load();
  stats.replica_reads = impl_->replica_reads.load();
  return stats;
}

void ClusterClient::close() {
  impl_->closed = true;
  std::vector<std::shared_ptr<ClusterNode>> nodes;
  {
    const std::lock_guard lock(impl_->map_mutex);
    for (const auto& [address, node] : impl_->registry) nodes.push_back(node);
  }
  for (const auto& node : nodes) {
    if (node->opened() != nullptr) node->client().close();
  }
}

}  // namespace poolkit::redis
