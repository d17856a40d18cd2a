#include "poolkit/pools.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "http/engine.hpp"
#include "layer_reports.hpp"
#include "metrics_server.hpp"
#include "mongo/mongo_detail.hpp"
#include "poolkit/detail/lazy_client.hpp"
#include "poolkit/redis_async.hpp"
#include "poolkit/redis_async_cluster.hpp"
#include "poolkit/redis_cluster.hpp"
#include "poolkit/redis_sentinel.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit {
using namespace detail;
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::microseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

void default_log(std::string_view line) {
  fmt::print(stderr, "poolkit: {}\n", line);
}

// Reports what an operator should act on; every other event is left to metrics.
class LoggingListener final : public PoolListener {
 public:
  explicit LoggingListener(std::function<void(std::string_view)> log) : log_(std::move(log)) {}
  void on_event(const PoolEvent& event) noexcept override {
    try {
      if (event.type == PoolEventType::lease_leaked) {
        log_(fmt::format(
            "{} pool ({}): connection {} has been checked out for {} ms; a lease that is never "
            "returned shrinks the pool for good",
            event.pool_name, event.address, event.connection_id,
            std::chrono::duration_cast<std::chrono::milliseconds>(event.duration).count()));
      } else if (event.type == PoolEventType::pool_cleared) {
        log_(fmt::format(
            "{} pool ({}): cleared after a network error; idle connections are dropped and "
            "replaced on demand",
            event.pool_name, event.address));
      }
    } catch (...) {
      // A listener must not throw into the pool; a lost log line is the lesser harm.
    }
  }

 private:
  std::function<void(std::string_view)> log_;
};

[[noreturn]] void not_configured(std::string_view layer, std::string_view variable) {
  throw ConfigError(
      fmt::format("the {} layer is disabled: {} is not set. Set it (e.g. in .env) to use "
                  "poolkit::pools().{}()",
                  layer, variable, layer));
}

}  // namespace

struct Pools::Impl {
  Impl(Settings s, PoolsOptions o)
      : settings(std::move(s)),
        options(std::move(o)),
        listener(std::make_shared<LoggingListener>(options.log ? options.log : default_log)),
        redis([this] { return make_redis(); }),
        redis_async([this] { return make_redis_async(); }),
        redis_async_cluster([this] { return make_redis_async_cluster(); }),
        redis_cluster([this] { return make_redis_cluster(); }),
        redis_sentinel([this] { return make_redis_sentinel(); }),
        mongo([this] { return make_mongo(); }),
        http([this] { return std::make_unique<http::AsyncClient>(settings.http_async); }),
        http_sync([this] { return std::make_unique<http::SyncClient>(settings.http_sync); }) {}

  std::unique_ptr<redis::Client> make_redis() {
    if (!settings.redis.url) not_configured(layer_name(Layer::redis), setting::kRedisUrl);
    redis::ClientOptions o;
    o.listener = listener;
    o.leak_threshold = options.leak_threshold;
    return std::make_unique<redis::Client>(settings.redis, o);
  }
  std::unique_ptr<redis::AsyncClient> make_redis_async() {
    if (!settings.redis.url) not_configured(layer_name(Layer::redis), setting::kRedisUrl);
    if (settings.redis.mode == RedisMode::cluster) {
      throw ConfigError(fmt::format(
          "{} is cluster: the async client (poolkit::pools().redis_async()) talks to one server; "
          "use pools().redis_async_cluster(), the async client routed by slot",
          setting::kRedisMode));
    }
    if (settings.redis.mode != RedisMode::standalone) {
      throw ConfigError(fmt::format(
          "{} is not standalone: the async client (poolkit::pools().redis_async()) talks to one "
          "server; use pools().redis_cluster() or pools().redis_sentinel() in that mode",
          setting::kRedisMode));
    }
    return std::make_unique<redis::AsyncClient>(settings.redis);
  }
  std::unique_ptr<redis::AsyncClusterClient> make_redis_async_cluster() {
    if (!settings.redis.url) not_configured(layer_name(Layer::redis), setting::kRedisUrl);
    if (settings.redis.mode != RedisMode::cluster) {
      throw ConfigError(fmt::format(
          "{} is not cluster: pools().redis_async_cluster() routes by slot over a Redis Cluster; "
          "use pools().redis_async() for one server, or set {}=cluster",
          setting::kRedisMode, setting::kRedisMode));
    }
    return std::make_unique<redis::AsyncClusterClient>(settings.redis);
  }
  std::unique_ptr<redis::ClusterClient> make_redis_cluster() {
    if (!settings.redis.url) not_configured(layer_name(Layer::redis), setting::kRedisUrl);
    if (settings.redis.mode != RedisMode::cluster) {
      throw ConfigError(
          fmt::format("{} is not cluster: use poolkit::pools().redis() for one "
                      "server, or set {}=cluster",
                      setting::kRedisMode, setting::kRedisMode));
    }
    redis::ClusterOptions o;
    o.node.listener = listener;
    o.node.leak_threshold = options.leak_threshold;
    return std::make_unique<redis::ClusterClient>(settings.redis, o);
  }
  std::unique_ptr<redis::SentinelClient> make_redis_sentinel() {
    if (!settings.redis.url) not_configured(layer_name(Layer::redis), setting::kRedisUrl);
    if (settings.redis.mode != RedisMode::sentinel) {
      throw ConfigError(
          fmt::format("{} is not sentinel: use poolkit::pools().redis() for one server, or set "
                      "{}=sentinel and list the sentinels in {}",
                      setting::kRedisMode, setting::kRedisMode, setting::kRedisUrl));
    }
    redis::SentinelOptions o;
    o.node.listener = listener;
    o.node.leak_threshold = options.leak_threshold;
    return std::make_unique<redis::SentinelClient>(settings.redis, o);
  }
  std::unique_ptr<mongo::Client> make_mongo() {
    if (!settings.mongo.url) not_configured(layer_name(Layer::mongo), setting::kMongodbUrl);
    mongo::ClientOptions o;
    o.listener = listener;
    o.leak_threshold = options.leak_threshold;
    o.on_warning = [this](const std::string& warning) { log(warning); };
    return std::make_unique<mongo::Client>(settings.mongo, o);
  }
  void log(std::string_view line) const { (options.log ? options.log : default_log)(line); }

  LayerHealth redis_health(const HealthOptions& o);
  LayerHealth redis_cluster_health();
  LayerHealth redis_sentinel_health();
  LayerHealth mongo_health(const HealthOptions& o);
  LayerHealth http_health(const HealthOptions& o, bool sync);

  Settings settings;
  PoolsOptions options;
  std::shared_ptr<LoggingListener> listener;
  detail::LazyClient<redis::Client> redis;
  detail::LazyClient<redis::AsyncClient> redis_async;
  detail::LazyClient<redis::AsyncClusterClient> redis_async_cluster;
  detail::LazyClient<redis::ClusterClient> redis_cluster;
  detail::LazyClient<redis::SentinelClient> redis_sentinel;
  detail::LazyClient<mongo::Client> mongo;
  detail::LazyClient<http::AsyncClient> http;
  detail::LazyClient<http::SyncClient> http_sync;
  std::unique_ptr<MetricsServer> metrics_server;
};

// Runs one layer's probe, turning any failure into a failed LayerHealth with the error's text.
template <class Probe>
LayerHealth probe_layer(std::string_view layer, bool configured, Probe probe) {
  LayerHealth health{.layer = std::string(layer), .configured = configured};
  if (!configured) {
    health.error = "not configured";
    return health;
  }
  const auto start = Clock::now();
  try {
    probe(health);
    health.ok = true;
  } catch (const std::exception& error) {
    health.error = error.what();
  }
  if (health.latency.count() == 0) health.latency = since(start);
  return health;
}

namespace {

// A Sentinel answers PING and INFO but holds no data; a cluster node answers only for its own
// slots (MOVED for the rest). Either is a failed check that says what the URL points at.
void require_standalone_redis(LayerHealth& h, const redis::Info& info) {
  const std::string mode(info.find("redis_mode").value_or("standalone"));
  h.details.emplace_back("redis_mode", mode);
  if (mode == "sentinel")
    throw std::runtime_error(fmt::format(
        "{} points at a Redis Sentinel (INFO redis_mode:sentinel), which holds no data: this "
        "client talks to one standalone server; set {}=sentinel and {} to the master's name "
        "(the Sentinel finds it: SENTINEL get-master-addr-by-name <master>), or point {} at "
        "the master itself",
        setting::kRedisUrl, setting::kRedisMode, setting::kRedisSentinelMaster,
        setting::kRedisUrl));
  if (mode == "cluster" || info.find("cluster_enabled").value_or("0") == "1")
    throw std::runtime_error(fmt::format(
        "{} points at a Redis Cluster node (INFO redis_mode:cluster, cluster_enabled:1), but "
        "{} is standalone: this client talks to one server and does not follow MOVED "
        "redirects, so keys in other nodes' slots fail; set {}=cluster (the nodes in {} are "
        "then seeds) to use the cluster client",
        setting::kRedisUrl, setting::kRedisMode, setting::kRedisMode, setting::kRedisUrl));
}

}  // namespace

// The cluster's shape: cluster_state, then one line per node (role, slots, reachability, pool).
LayerHealth Pools::Impl::redis_cluster_health() {
  return probe_layer(
      layer_name(Layer::redis), settings.redis.url.has_value(), [this](LayerHealth& h) {
        auto& client = redis_cluster.get();
        const redis::ClusterHealth cluster = client.health();
        h.details.emplace_back("redis_mode", "cluster");
        h.details.emplace_back("cluster_state", cluster.cluster_state);
        h.details.emplace_back("slots_served", std::to_string(cluster.slots_served));
        std::chrono::microseconds slowest{0};
        for (const redis::ClusterNodeHealth& node : cluster.nodes) {
          slowest = std::max(slowest, node.latency);
          h.details.emplace_back(
              "node " + node.address,
              node.ok ? fmt::format("{}, {} slots, ping {} us, pool {} in use / {} idle / max {}",
                                    node.role, node.slots, node.latency.count(), node.pool.in_use,
                                    node.pool.idle, node.pool.max_size)
                      : fmt::format("{}, {} slots, unreachable: {}", node.role, node.slots,
                                    node.error));
        }
        const auto stats = client.stats();
        h.details.emplace_back("topology_refreshes", std::to_string(stats.topology_refreshes));
        h.details.emplace_back("redirects",
                               fmt::format("{} MOVED, {} ASK", stats.moved, stats.ask));
        // The async cluster client, when something uses it (it is not created to be reported on).
        if (const auto* async = redis_async_cluster.peek()) {
          add_redis_async_cluster_details(h, async->stats());
        }
        h.latency = slowest;
        if (!cluster.ok()) {
          throw std::runtime_error(fmt::format(
              "the Redis Cluster is not healthy: cluster_state:{}, {} of 16384 slots served{}",
              cluster.cluster_state, cluster.slots_served,
              std::any_of(cluster.nodes.begin(), cluster.nodes.end(),
                          [](const auto& node) { return node.role == "master" && !node.ok; })
                  ? ", a master does not answer"
                  : ""));
        }
      });
}

// What the sentinels show: the master in use (and whether it answers ROLE as one), its
// replicas, the sentinels, and the master's pool.
LayerHealth Pools::Impl::redis_sentinel_health() {
  return probe_layer(
      layer_name(Layer::redis), settings.redis.url.has_value(), [this](LayerHealth& h) {
        auto& client = redis_sentinel.get();
        const auto started = Clock::now();
        const redis::SentinelHealth sentinel = client.health();
        h.latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
        h.details.emplace_back("redis_mode", "sentinel");
        h.details.emplace_back("master_name", sentinel.master_name);
        const auto line = [](const redis::SentinelNodeHealth& node) {
          return node.ok ? node.role : fmt::format("{}, down: {}", node.role, node.error);
        };
        h.details.emplace_back(
            "master " + sentinel.master.address,
            sentinel.master.ok
                ? fmt::format("master, pool {} in use / {} idle / max {}", sentinel.pool.in_use,
                              sentinel.pool.idle, sentinel.pool.max_size)
                : fmt::format("unusable: {}", sentinel.master.role.empty()
                                                  ? sentinel.master.error
                                                  : "ROLE " + sentinel.master.role));
        for (const auto& node : sentinel.replicas) {
          h.details.emplace_back("replica " + node.address, line(node));
        }
        for (const auto& node : sentinel.sentinels) {
          h.details.emplace_back("sentinel " + node.address, line(node));
        }
        const auto stats = client.stats();
        h.details.emplace_back("failovers_followed", std::to_string(stats.failovers));
        if (!sentinel.ok()) {
          throw std::runtime_error(fmt::format(
              "Redis Sentinel: no usable master named {} ({})", sentinel.master_name,
              sentinel.master.error.empty() ? "no sentinel answers" : sentinel.master.error));
        }
      });
}

LayerHealth Pools::Impl::redis_health(const HealthOptions&) {
  if (settings.redis.mode == RedisMode::cluster) return redis_cluster_health();
  if (settings.redis.mode == RedisMode::sentinel) return redis_sentinel_health();
  return probe_layer(
      layer_name(Layer::redis), settings.redis.url.has_value(), [this](LayerHealth& h) {
        auto& client = redis.get();
        h.details.emplace_back("address", client.address());
        h.latency = client.ping();
        const auto info = client.info();
        for (const char* key :
             {"redis_version", "connected_clients", "maxclients", "used_memory_human",
              "keyspace_hits", "keyspace_misses", "rejected_connections"})
          if (const auto value = info.find(key)) h.details.emplace_back(key, std::string(*value));
        require_standalone_redis(h, info);
        const auto stats = client.stats();
        add_pool_details(h, stats.pool, setting::kRedisMaxConnections);
        h.details.emplace_back("retries", std::to_string(stats.retries));
        add_pool_signals(h, stats.pool, setting::kRedisMaxConnections, setting::kRedisWaitTimeout);
        // The async client, when something uses it (it is not created to be reported on).
        if (const auto* async = redis_async.peek()) add_redis_async_details(h, async->stats());
      });
}

LayerHealth Pools::Impl::mongo_health(const HealthOptions&) {
  return probe_layer(
      layer_name(Layer::mongo), settings.mongo.url.has_value(), [this](LayerHealth& h) {
        auto& client = mongo.get();
        h.details.emplace_back("address", client.address());
        h.latency = std::chrono::duration_cast<std::chrono::microseconds>(client.ping().latency);
        h.details.emplace_back("server_version", mongo_server_version(client));
        const auto pool_stats = client.conn_pool_stats();
        h.details.emplace_back("connPoolStats",
                               pool_stats.supported ? "supported" : "unsupported by this server");
        const auto stats = client.stats();
        add_pool_details(h, stats.pool, setting::kMongodbMaxPoolSize);
        h.details.emplace_back("heartbeats_failed",
                               std::to_string(stats.monitoring.heartbeats_failed));
        add_pool_signals(h, stats.pool, setting::kMongodbMaxPoolSize,
                         setting::kMongodbWaitQueueTimeoutMs);
      });
}

LayerHealth Pools::Impl::http_health(const HealthOptions& o, bool sync) {
  return probe_layer(
      sync ? layer_name(Layer::http_sync) : layer_name(Layer::http_async), true,
      [&, this](LayerHealth& h) {
        add_http_limits(h, settings, sync);
        if (!o.http_probe_url.empty()) {
          http::Request request{.url = o.http_probe_url};
          request.timeout = o.timeout;
          const auto response =
              sync ? http_sync.get().send(request) : http.get().send(request).get();
          h.latency = std::chrono::duration_cast<std::chrono::microseconds>(response.timings.total);
          add_probe_details(h, response);
          // A 4xx or 5xx answer means the upstream or the URL is wrong: not a healthy layer.
          if (response.status >= 400) {
            throw ServerError(Backend::http,
                              fmt::format("the probe GET {} answered HTTP {}: expected a 2xx or "
                                          "3xx status",
                                          redact_url_text(o.http_probe_url), response.status));
          }
        } else {
          h.details.emplace_back("probe", "none (no URL to probe; pass one to check it)");
        }
        // Without a probe, a client nobody has used is not created just to be reported on.
        const auto metrics_of = [](const auto* client) -> std::optional<http::Metrics> {
          if (client == nullptr) return std::nullopt;
          return client->metrics();
        };
        const auto metrics = sync ? metrics_of(http_sync.peek()) : metrics_of(http.peek());
        if (!metrics) {
          h.details.emplace_back("client", "not in use yet");
          return;
        }
        add_http_signals(h, *metrics, settings, sync);
      });
}

Pools::Pools(Settings settings, PoolsOptions options)
    : impl_(std::make_unique<Impl>(std::move(settings), std::move(options))) {
  // libmongoc's and libcurl's process-wide state must outlive the clients, which are created
  // later, on first use: initialised here, before a static Pools (pools()) is fully
  // constructed, their cleanup runs after that Pools is destroyed. Initialised later,
  // mongoc_cleanup() ran first at exit.
  mongo::detail::ensure_mongoc_initialized();
  http::detail::ensure_curl_initialized();
  if (impl_->settings.metrics_addr) {
    impl_->metrics_server = std::make_unique<MetricsServer>(
        *impl_->settings.metrics_addr,
        MetricsServer::Handlers{.metrics = [this] { return metrics().to_prometheus(); },
                                .health =
                                    [this] {
                                      const Health h = health();
                                      return std::pair{h.ok(), h.to_json()};
                                    }});
  }
}

Pools::~Pools() {
  impl_->metrics_server.reset();  // no scrape may run while the clients go away
  close();
}

redis::Client& Pools::redis() {
  return impl_->redis.get();
}
redis::AsyncClient& Pools::redis_async() {
  return impl_->redis_async.get();
}
redis::AsyncClusterClient& Pools::redis_async_cluster() {
  return impl_->redis_async_cluster.get();
}
redis::ClusterClient& Pools::redis_cluster() {
  return impl_->redis_cluster.get();
}
redis::SentinelClient& Pools::redis_sentinel() {
  return impl_->redis_sentinel.get();
}
mongo::Client& Pools::mongo() {
  return impl_->mongo.get();
}
http::AsyncClient& Pools::http() {
  return impl_->http.get();
}
http::SyncClient& Pools::http_sync() {
  return impl_->http_sync.get();
}

bool Pools::configured(std::string_view layer) const {
  if (layer == layer_name(Layer::redis)) return impl_->settings.redis.url.has_value();
  if (layer == layer_name(Layer::mongo)) return impl_->settings.mongo.url.has_value();
  return layer == layer_name(Layer::http_async) || layer == layer_name(Layer::http_sync);
}

Health Pools::health(const HealthOptions& options) {
  const auto wanted = [&](std::string_view layer) {
    return options.only.empty() ||
           std::find(options.only.begin(), options.only.end(), layer) != options.only.end();
  };
  Health health;
  if (wanted(layer_name(Layer::redis))) health.layers.push_back(impl_->redis_health(options));
  if (wanted(layer_name(Layer::mongo))) health.layers.push_back(impl_->mongo_health(options));
  if (wanted(layer_name(Layer::http_async)))
    health.layers.push_back(impl_->http_health(options, false));
  if (wanted(layer_name(Layer::http_sync)))
    health.layers.push_back(impl_->http_health(options, true));
  return health;
}

MetricsSnapshot Pools::metrics() const {
  MetricsSnapshot snapshot;
  if (const auto* client = impl_->redis.peek()) add_redis_metrics(snapshot, client->stats());
  if (const auto* client = impl_->redis_async.peek()) {
    add_redis_async_metrics(snapshot, client->stats());
  }
  if (const auto* client = impl_->redis_cluster.peek()) {
    add_redis_cluster_metrics(snapshot, client->stats());
  }
  if (const auto* client = impl_->redis_async_cluster.peek()) {
    add_redis_async_cluster_metrics(snapshot, client->stats());
  }
  if (const auto* client = impl_->redis_sentinel.peek()) {
    add_redis_sentinel_metrics(snapshot, client->stats());
  }
  if (const auto* client = impl_->mongo.peek()) mongo::add_metrics(snapshot, client->stats());
  if (const auto* client = impl_->http.peek())
    add_http_metrics(snapshot, layer_name(Layer::http_async), client->metrics());
  if (const auto* client = impl_->http_sync.peek())
    add_http_metrics(snapshot, layer_name(Layer::http_sync), client->metrics());
  return snapshot;
}

void Pools::close() {
  impl_->http.close();
  impl_->http_sync.close();
  impl_->redis.close();
  impl_->redis_async.close();
  impl_->redis_async_cluster.close();
  impl_->redis_cluster.close();
  impl_->redis_sentinel.close();
  impl_->mongo.close();
}

const Settings& Pools::settings() const noexcept {
  return impl_->settings;
}

Pools& pools() {
  static Pools instance{Settings::from_environment()};
  return instance;
}

}  // namespace poolkit
