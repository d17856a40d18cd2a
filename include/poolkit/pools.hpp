#pragma once
// The process-wide registry: one client per backend, built from the settings on first use.
//
//   #include <poolkit/poolkit.hpp>          // the registry and every client
//   auto& p = poolkit::pools();            // settings from the environment (+ ./.env, profile)
//   p.redis().set("greeting", "hello");
//   auto reply = p.mongo().run_command_json("admin", R"({"ping": 1})");
//   auto future = p.http().send({.url = "https://api.example.com/v1/items"});
//   auto page = p.http_sync().get("https://example.com/");
//
// Each client is created exactly once however many threads ask at once; a layer whose URL is not
// set throws ConfigError saying which variable enables it; close() (idempotent, any thread)
// closes every client and the next use creates a new one. A reference obtained before a close
// stays valid: using it throws PoolClosedError. poolkit::pools() closes everything at exit.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "poolkit/health.hpp"
#include "poolkit/metrics.hpp"
#include "poolkit/settings.hpp"

// The clients are declared, not included: a file that only holds the registry does not compile
// libmongoc's or any client's headers. Include the client headers you call (or
// <poolkit/poolkit.hpp>, which has them all).
namespace poolkit::redis {
class AsyncClient;
class AsyncClusterClient;
class Client;
class ClusterClient;
class SentinelClient;
}  // namespace poolkit::redis
namespace poolkit::mongo {
class Client;
}
namespace poolkit::http {
class AsyncClient;
class SyncClient;
}  // namespace poolkit::http

namespace poolkit {

struct PoolsOptions {
  // Where the registry reports what a service operator should see (a lease held too long, a
  // pool cleared after a network error, configuration warnings). Default: one line on stderr.
  std::function<void(std::string_view)> log{};
  // A lease held longer than this is reported (0 = never).
  std::chrono::milliseconds leak_threshold{60000};
};

class Pools {
 public:
  explicit Pools(Settings settings, PoolsOptions options = {});
  ~Pools();
  Pools(const Pools&) = delete;
  Pools& operator=(const Pools&) = delete;

  // REDIS_MODE=standalone (redis() throws ConfigError in the other modes, naming the right one).
  redis::Client& redis();
  // The async, multiplexed client of the same server (REDIS_MULTIPLEX_CONNECTIONS connections
  // shared by every caller, REDIS_MAX_PENDING commands at most): REDIS_MODE=standalone.
  // Include <poolkit/redis_async.hpp> to call it.
  redis::AsyncClient& redis_async();
  // REDIS_MODE=cluster: the async client routed by slot, one AsyncClient per node
  // (REDIS_MULTIPLEX_CONNECTIONS connections and REDIS_MAX_PENDING commands per node).
  // Include <poolkit/redis_async_cluster.hpp> to call it.
  redis::AsyncClusterClient& redis_async_cluster();
  // REDIS_MODE=cluster: the cluster client (REDIS_MAX_CONNECTIONS per node).
  redis::ClusterClient& redis_cluster();
  // REDIS_MODE=sentinel: the master named REDIS_SENTINEL_MASTER, followed across failovers.
  redis::SentinelClient& redis_sentinel();
  mongo::Client& mongo();
  http::AsyncClient& http();
  http::SyncClient& http_sync();

  // Whether the layer has what it needs (its URL) to be used.
  bool configured(std::string_view layer) const;
  Health health(const HealthOptions& options = {});
  // Stats of every client open now (none is created to take it).
  MetricsSnapshot metrics() const;
  // Idempotent, from any thread; the next use re-creates what it needs.
  void close();

  const Settings& settings() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The process-wide registry, built from Settings::from_environment() on first use (a
// ConfigError is thrown to that caller and the next call tries again). At exit it closes every
// client: HTTP I/O threads are joined and no connection is left open. When POOLKIT_METRICS_ADDR
// is set, it serves /metrics and /healthz there from first use.
Pools& pools();

}  // namespace poolkit
