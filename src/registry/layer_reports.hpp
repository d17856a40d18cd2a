#pragma once
// How the registry reports each layer: health details with the saturation signals of
// docs/tuning.md §5 (each with its remedy), and the layer's stats as metrics. Backend knowledge of
// the registry lives here, so pools.cpp stays about lifetime.

#include <string>

#include "poolkit/health.hpp"
#include "poolkit/http.hpp"
#include "poolkit/metrics.hpp"
#include "poolkit/mongo.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/redis_async.hpp"
#include "poolkit/redis_async_cluster.hpp"
#include "poolkit/redis_cluster.hpp"
#include "poolkit/redis_sentinel.hpp"

namespace poolkit::detail {

// size, in use, idle, connecting, waiting, created, closed.
void add_pool_details(LayerHealth& health, const PoolStats& stats, std::string_view size_setting);
// Check-out timeouts, waits, connections re-created: "signal: ..." details with what to do.
void add_pool_signals(LayerHealth& health, const PoolStats& stats, std::string_view size_setting,
                      std::string_view wait_setting);
void add_http_limits(LayerHealth& health, const Settings& settings, bool sync);
void add_probe_details(LayerHealth& health, const http::Response& response);
void add_http_signals(LayerHealth& health, const http::Metrics& metrics, const Settings& settings,
                      bool sync);
std::string mongo_server_version(mongo::Client& client);

void add_redis_metrics(MetricsSnapshot& snapshot, const redis::ClientStats& stats);
// The async client's connections, pending and in-flight commands, batch sizes and reconnects as
// health details (with a signal when callers timed out waiting for a pending slot), and metrics
// (pool="redis async").
void add_redis_async_details(LayerHealth& health, const redis::AsyncClientStats& stats);
void add_redis_async_metrics(MetricsSnapshot& snapshot, const redis::AsyncClientStats& stats);
// The async cluster client: the cluster's commands (kind=async_command), each node's connections
// and batches as add_redis_async_metrics gives them (pool="redis async host:port"), and its
// refreshes, redirects and retries (client="async"); health details one line per node.
void add_redis_async_cluster_metrics(MetricsSnapshot& snapshot,
                                     const redis::AsyncClusterStats& stats);
void add_redis_async_cluster_details(LayerHealth& health, const redis::AsyncClusterStats& stats);
// Each node's pool (pool="redis host:port"), the cluster's commands, and its refreshes,
// redirects and retries.
void add_redis_cluster_metrics(MetricsSnapshot& snapshot, const redis::ClusterStats& stats);
// The master's pool and commands (as for one server), and the failovers followed by cause.
void add_redis_sentinel_metrics(MetricsSnapshot& snapshot, const redis::SentinelStats& stats);
void add_http_metrics(MetricsSnapshot& snapshot, std::string_view layer,
                      const http::Metrics& metrics);

}  // namespace poolkit::detail
