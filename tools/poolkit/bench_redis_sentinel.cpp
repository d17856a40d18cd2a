// `poolkit bench redis --mode sentinel` (or REDIS_MODE=sentinel): N threads GET the cluster
// mode's key set through redis::SentinelClient, on the master REDIS_SENTINEL_MASTER names;
// REDIS_MAX_CONNECTIONS (or --pool-size) bounds the master's pool.

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "bench_redis_keys.hpp"
#include "bench_workloads.hpp"
#include "poolkit/redis_sentinel.hpp"

namespace poolkit::cli {

Workload redis_sentinel_workload(const BenchOptions& options, RedisSettings settings) {
  settings.max_connections = options.pool_size;
  auto client = std::make_shared<redis::SentinelClient>(settings);
  auto keys = std::make_shared<const std::vector<std::string>>(spread_bench_keys());
  std::vector<std::string> mset{"MSET"};  // one node: one command sets them all
  for (const std::string& key : *keys) {
    mset.push_back(key);
    mset.emplace_back(kSpreadBenchValue);
  }
  client->command(std::span<const std::string>(mset));
  return spread_keys_workload(
      client, keys, [](const redis::SentinelClient& c) { return c.stats().client.pool.created; },
      [](const redis::SentinelClient& c) { return c.stats().client.pool.in_use; });
}

}  // namespace poolkit::cli
