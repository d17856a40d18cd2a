#pragma once
// The workload of each layer, shared by `poolkit bench <layer>` and `poolkit demo`: one client per
// call, sized by options.pool_size, re-creating a connection per operation when !options.reuse,
// and reporting its in-use count so the runner can record the peak.

#include <poolkit/settings.hpp>
#include <string>
#include <vector>

#include "bench_runner.hpp"

namespace poolkit::cli {

// GET of one small key (written once when the workload is made).
Workload redis_workload(const BenchOptions& options, RedisSettings settings,
                        bool strict_fifo = false);

// GET of the same key through redis::AsyncClient (options.pool_size connections): from
// options.concurrency callbacks in flight, or from that many threads calling get().
Workload redis_async_workload(const BenchOptions& options, RedisSettings settings, bool callbacks);

// REDIS_MODE=cluster: GET of 1,024 keys spread over every slot through redis::ClusterClient;
// options.pool_size bounds each node's pool, in_use is the sum over the nodes.
Workload redis_cluster_workload(const BenchOptions& options, RedisSettings settings);
// The same keys through redis::AsyncClusterClient (options.pool_size connections per node), as
// redis_async_workload runs them.
Workload redis_async_cluster_workload(const BenchOptions& options, RedisSettings settings,
                                      bool callbacks);
// REDIS_MODE=sentinel: the same keys through redis::SentinelClient, on the master
// REDIS_SENTINEL_MASTER names; options.pool_size bounds the master's pool.
Workload redis_sentinel_workload(const BenchOptions& options, RedisSettings settings);

// Writes the small collection mongo_workload reads (left alone when it is already right).
void seed_mongo(const MongoSettings& settings);
// Find by _id in the seeded collection.
Workload mongo_workload(const BenchOptions& options, MongoSettings settings);

// GET of options.url on the async client (N requests in flight), or the sync client from N
// threads; in_use is the number of requests in flight.
Workload http_workload(const BenchOptions& options, const Settings& settings, bool sync);

// libmongoc warns each time a client closes against a server without endSessions (FerretDB):
// once per connection when re-creating. Installs a log handler that drops just that warning.
void quiet_mongoc_end_sessions_warnings();

}  // namespace poolkit::cli
