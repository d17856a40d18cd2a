// `poolkit bench redis --mode cluster` (or REDIS_MODE=cluster): N threads GET keys spread over
// every slot through redis::ClusterClient, so every master works; REDIS_MAX_CONNECTIONS (or
// --pool-size) bounds each node's pool.

#include <fmt/format.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "bench_workloads.hpp"
#include "poolkit/redis_cluster.hpp"

namespace poolkit::cli {
namespace {

// Enough keys that each of the 16384 slots' owners gets its share, few enough to set at once.
constexpr int kClusterBenchKeys = 1024;

template <class Field>
std::size_t sum_over_nodes(const redis::ClusterClient& client, Field field) {
  std::size_t total = 0;
  for (const auto& node : client.stats().nodes) total += node.has_pool ? field(node) : 0;
  return total;
}

}  // namespace

std::vector<std::string> cluster_bench_keys() {
  std::vector<std::string> keys;
  for (int i = 0; i < kClusterBenchKeys; ++i) keys.push_back(fmt::format("poolkit:bench:{}", i));
  return keys;
}

Workload redis_cluster_workload(const BenchOptions& options, RedisSettings settings) {
  settings.max_connections = options.pool_size;
  auto client = std::make_shared<redis::ClusterClient>(settings);
  auto keys = std::make_shared<const std::vector<std::string>>(cluster_bench_keys());
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const std::string& key : *keys) pairs.emplace_back(key, "xxx");
  client->mset(pairs);  // split by slot: one MSET per slot, one pipeline per node
  ThreadWorkload threads{
      .make_worker = [client, keys](int worker) -> std::function<void()> {
        // Each thread walks the keys from its own start, so the masters share the load.
        auto next = std::make_shared<std::size_t>(static_cast<std::size_t>(worker) * 7919);
        return [client, keys, next] {
          const std::string& key = (*keys)[(*next)++ % keys->size()];
          if (!client->get(key)) client->set(key, "xxx");
        };
      },
      .connections_opened =
          [client] {
            return sum_over_nodes(*client,
                                  [](const auto& node) { return node.client.pool.created; });
          },
  };
  Workload workload{.run = std::move(threads)};
  workload.in_use = [client] {
    return sum_over_nodes(*client, [](const auto& node) { return node.client.pool.in_use; });
  };
  return workload;
}

}  // namespace poolkit::cli
