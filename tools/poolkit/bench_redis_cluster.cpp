// `poolkit bench redis --mode cluster` (or REDIS_MODE=cluster): N threads GET keys spread over
// every slot through redis::ClusterClient, so every master works; REDIS_MAX_CONNECTIONS (or
// --pool-size) bounds each node's pool.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_redis_keys.hpp"
#include "bench_workloads.hpp"
#include "poolkit/redis_cluster.hpp"

namespace poolkit::cli {
namespace {

template <class Field>
std::size_t sum_over_nodes(const redis::ClusterClient& client, Field field) {
  std::size_t total = 0;
  for (const auto& node : client.stats().nodes) total += node.has_pool ? field(node) : 0;
  return total;
}

}  // namespace

Workload redis_cluster_workload(const BenchOptions& options, RedisSettings settings) {
  settings.max_connections = options.pool_size;
  auto client = std::make_shared<redis::ClusterClient>(settings);
  auto keys = std::make_shared<const std::vector<std::string>>(spread_bench_keys());
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string& key : *keys) pairs.emplace_back(key, kSpreadBenchValue);
  client->mset(pairs);  // split by slot: one MSET per slot, one pipeline per node
  return spread_keys_workload(
      client, keys,
      [](const redis::ClusterClient& c) {
        return sum_over_nodes(c, [](const auto& node) { return node.client.pool.created; });
      },
      [](const redis::ClusterClient& c) {
        return sum_over_nodes(c, [](const auto& node) { return node.client.pool.in_use; });
      });
}

}  // namespace poolkit::cli
