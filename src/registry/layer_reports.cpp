#include "layer_reports.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "poolkit/setting_names.hpp"

namespace poolkit::detail {
namespace {

void detail(LayerHealth& h, std::string key, std::string value) {
  h.details.emplace_back(std::move(key), std::move(value));
}

void signal(LayerHealth& h, std::string text) {
  detail(h, "signal", std::move(text));
}

double percent(std::uint64_t part, std::uint64_t whole) {
  return whole == 0 ? 0.0 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string ms(std::chrono::microseconds d) {
  return fmt::format("{:.2f} ms", static_cast<double>(d.count()) / 1000.0);
}

}  // namespace

void add_pool_details(LayerHealth& h, const PoolStats& s, std::string_view size_setting) {
  detail(
      h, "pool",
      fmt::format("{} ({}={}, min {})", to_string(s.state), size_setting, s.max_size, s.min_size));
  detail(h, "connections",
         fmt::format("{} in use, {} idle, {} connecting, {} waiting", s.in_use, s.idle,
                     s.connecting, s.waiting));
  detail(
      h, "opened_closed",
      fmt::format("{} opened, {} closed ({} idle, {} stale, {} error, {} expired)", s.created,
                  s.closed_total(), s.closed_by(CloseReason::idle), s.closed_by(CloseReason::stale),
                  s.closed_by(CloseReason::error), s.closed_by(CloseReason::expired)));
  detail(h, "checkouts",
         fmt::format("{} ({} waited, longest {:.1f} ms)", s.checkouts, s.waited,
                     static_cast<double>(s.wait_time_max_us) / 1000.0));
}

void add_pool_signals(LayerHealth& h, const PoolStats& s, std::string_view size_setting,
                      std::string_view wait_setting) {
  const auto timeouts = s.failures_by(CheckOutFailure::timeout);
  if (timeouts > 0)
    signal(
        h,
        fmt::format(
            "{} check-outs timed out waiting for a connection: raise {} gradually (one step, then "
            "watch), or hold connections for less time; {} bounds the wait",
            timeouts, size_setting, wait_setting));
  if (s.checkouts >= 20 && percent(s.waited, s.checkouts) > 10.0)
    signal(h,
           fmt::format(
               "{:.0f}% of check-outs had to wait (longest {:.1f} ms): the pool runs at its limit; "
               "size it to peak concurrency + 20% ({})",
               percent(s.waited, s.checkouts), static_cast<double>(s.wait_time_max_us) / 1000.0,
               size_setting));
  if (s.checkouts >= 20 && s.created > std::max<std::uint64_t>(2 * s.max_size, 10) &&
      percent(s.created, s.checkouts) > 20.0)
    signal(
        h,
        fmt::format(
            "{} connections opened for {} check-outs: connections are not being reused (closed: {} "
            "error, {} idle, {} stale); check server timeouts and network errors",
            s.created, s.checkouts, s.closed_by(CloseReason::error), s.closed_by(CloseReason::idle),
            s.closed_by(CloseReason::stale)));
  if (s.leaks_detected > 0)
    signal(
        h,
        fmt::format(
            "{} leases were held past the leak threshold: return connections promptly (RAII lease)",
            s.leaks_detected));
}

void add_http_limits(LayerHealth& h, const Settings& settings, bool sync) {
  if (sync) {
    const auto& s = settings.http_sync;
    detail(h, "limits",
           fmt::format(
               "{}={} per host, {}={} hosts, {}={} ms, {}={}", setting::kRequestsPoolMaxsize,
               s.pool_maxsize, setting::kRequestsPoolConnections, s.pool_connections,
               setting::kRequestsTimeout, s.timeout.count(), setting::kRequestsRetries, s.retries));
  } else {
    const auto& s = settings.http_async;
    detail(h, "limits",
           fmt::format("{}={}, {}={}, {}={} ms, {}={} ms, {}={} ms", setting::kAiohttpPoolLimit,
                       s.pool_limit, setting::kAiohttpLimitPerHost, s.limit_per_host,
                       setting::kAiohttpTimeoutTotal, s.timeout_total.count(),
                       setting::kAiohttpKeepaliveTimeout, s.keepalive_timeout.count(),
                       setting::kAiohttpDnsTtl, s.dns_ttl.count()));
  }
}

void add_probe_details(LayerHealth& h, const http::Response& r) {
  detail(h, "probe",
         fmt::format("HTTP {} in {} after {} attempt(s){}", r.status, ms(r.timings.elapsed),
                     r.attempts, r.reused_connection ? ", reused connection" : ""));
  detail(h, "timings",
         fmt::format("dns {}, connect {}, tls {}, first byte {}", ms(r.timings.dns),
                     ms(r.timings.connect), ms(r.timings.tls), ms(r.timings.first_byte)));
  if (r.timings.dns > std::chrono::milliseconds(100))
    signal(h, fmt::format("slow DNS ({}): raise {} so lookups are cached longer, or fix the "
                          "resolver",
                          ms(r.timings.dns), setting::kAiohttpDnsTtl));
  if (r.timings.tls > r.timings.connect + std::chrono::milliseconds(200))
    signal(
        h,
        fmt::format(
            "slow TLS handshake ({}): make sure connections are reused (keep-alive) so it is paid "
            "once per connection",
            ms(r.timings.tls)));
  if (r.status >= 500 || r.status == 429)
    throw ServerError(Backend::http,
                      fmt::format("the probe answered HTTP {}{}", r.status,
                                  r.retry_skipped.empty() ? "" : " (" + r.retry_skipped + ")"));
}

void add_http_signals(LayerHealth& h, const http::Metrics& m, const Settings& settings, bool sync) {
  std::uint64_t total = 0, server_errors = 0, timeouts = 0;
  for (const auto& op : m.requests) {
    total += op.count;
    if (op.outcome == "5xx") server_errors += op.count;
    if (op.outcome == "timeout" || op.outcome == "pool_timeout") timeouts += op.count;
  }
  detail(h, "requests",
         fmt::format("{} ({} new connections, {} reused, {} retries, {} waiting now)", total,
                     m.connections_new, m.connections_reused, m.retries, m.waiting));
  if (total >= 20 && percent(server_errors, total) > 1.0)
    signal(
        h,
        fmt::format(
            "{:.1f}% of requests got 5xx: the upstream is failing; retries and the circuit breaker "
            "protect you, but fix or scale the upstream",
            percent(server_errors, total)));
  if (timeouts > 0)
    signal(h,
           fmt::format(
               "{} requests timed out: if they waited for a connection, raise {} gradually; if the "
               "upstream is slow, lower {} so workers are not held",
               timeouts,
               sync ? std::string(setting::kRequestsPoolMaxsize)
                    : fmt::format("{} / {}", setting::kAiohttpLimitPerHost,
                                  setting::kAiohttpPoolLimit),
               sync ? setting::kRequestsTimeout : setting::kAiohttpTimeoutTotal));
  const auto opened = m.connections_new, reused = m.connections_reused;
  if (opened + reused >= 20 && percent(opened, opened + reused) > 50.0)
    signal(
        h,
        fmt::format(
            "{:.0f}% of requests opened a new connection: make sure connections are reused (keep "
            "{}={} ms below the upstream's keep-alive timeout)",
            percent(opened, opened + reused), setting::kAiohttpKeepaliveTimeout,
            settings.http_async.keepalive_timeout.count()));
  for (const auto& host : m.hosts)
    if (host.circuit != CircuitState::closed)
      signal(h, fmt::format("circuit {} for {}: calls fail fast until it recovers",
                            to_string(host.circuit), host.host));
}

std::string mongo_server_version(mongo::Client& client) {
  const auto reply = nlohmann::json::parse(client.run_command_json("admin", R"({"buildInfo": 1})"));
  const auto version = reply.find("version");
  return version != reply.end() && version->is_string() ? version->get<std::string>() : "unknown";
}

void add_redis_metrics(MetricsSnapshot& snapshot, const redis::ClientStats& stats) {
  snapshot.add_pool(layer_name(Layer::redis), stats.pool);
  snapshot.add_operations(layer_name(Layer::redis), "command", stats.commands);
  const MetricLabels labels{{"layer", std::string(layer_name(Layer::redis))},
                            {"pool", stats.pool.name}};
  snapshot.add_counter("redis_retries", "Commands repeated after a failure", labels,
                       static_cast<double>(stats.retries));
  snapshot.add_counter("redis_pool_clears", "Network errors that dropped every idle connection",
                       labels, static_cast<double>(stats.pool_clears));
  if (stats.tls_full_handshakes + stats.tls_resumed_handshakes == 0) return;  // not rediss://
  MetricLabels full = labels;
  full["session"] = "full";
  MetricLabels resumed = labels;
  resumed["session"] = "resumed";
  constexpr std::string_view kHelp =
      "TLS handshakes of new connections, in full or resuming a session";
  snapshot.add_counter("redis_tls_handshakes", kHelp, full,
                       static_cast<double>(stats.tls_full_handshakes));
  snapshot.add_counter("redis_tls_handshakes", kHelp, resumed,
                       static_cast<double>(stats.tls_resumed_handshakes));
}

void add_redis_async_details(LayerHealth& h, const redis::AsyncClientStats& s) {
  detail(h, "async_connections",
         fmt::format("{} open of {} ({}), {} reconnects", s.connected, s.connections,
                     setting::kRedisMultiplexConnections, s.reconnects));
  detail(h, "async_commands",
         fmt::format("{} pending ({} in flight), {} waited for a slot, {} timed out waiting, {} "
                     "late replies dropped",
                     s.pending, s.in_flight, s.pending_waits, s.pending_timeouts, s.late_replies));
  detail(h, "async_batches",
         fmt::format("{} writes, {:.1f} commands per write on average, {} at most", s.writes,
                     s.writes == 0
                         ? 0.0
                         : static_cast<double>(s.batched_commands) / static_cast<double>(s.writes),
                     s.max_batch));
  if (s.pending_timeouts > 0) {
    signal(h, fmt::format("{} async commands timed out waiting for a pending slot: raise {} if "
                          "the server keeps up (or {}), or send fewer commands at once",
                          s.pending_timeouts, setting::kRedisMaxPending,
                          setting::kRedisMultiplexConnections));
  }
  if (s.connected < s.connections && s.connections > 0) {
    signal(h, fmt::format("{} of {} async connections are down; commands wait for them to "
                          "reopen (backoff up to 250 ms)",
                          s.connections - s.connected, s.connections));
  }
}

namespace {
// One async client's connections and batches, under pool=`pool`.
void add_async_connection_metrics(MetricsSnapshot& snapshot, const redis::AsyncClientStats& stats,
                                  const std::string& pool) {
  const std::string layer(layer_name(Layer::redis));
  const MetricLabels labels{{"layer", layer}, {"pool", pool}};
  const auto gauge = [&](std::string_view name, std::string_view help, double value) {
    snapshot.add_gauge(name, help, labels, value);
  };
  const auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    snapshot.add_counter(name, help, labels, static_cast<double>(value));
  };
  gauge("redis_async_connections", "Multiplexed connections open", stats.connected);
  gauge("redis_async_pending", "Commands queued or in flight (the pending bound limits it)",
        static_cast<double>(stats.pending));
  gauge("redis_async_in_flight", "Commands written whose reply is not read yet",
        static_cast<double>(stats.in_flight));
  gauge("redis_async_batch_max", "Most commands written in one write",
        static_cast<double>(stats.max_batch));
  counter("redis_async_writes", "Writes, each carrying a batch of commands", stats.writes);
  counter("redis_async_batched_commands", "Commands written (divided by writes: the batch size)",
          stats.batched_commands);
  counter("redis_async_reconnects", "Multiplexed connections reopened after a loss",
          stats.reconnects);
  counter("redis_async_retries", "Idempotent commands resent after a connection loss",
          stats.retries);
  counter("redis_async_pending_timeouts", "Callers that gave up waiting for a pending slot",
          stats.pending_timeouts);
  counter("redis_async_late_replies", "Replies read and dropped after their command timed out",
          stats.late_replies);
}
}  // namespace

void add_redis_async_metrics(MetricsSnapshot& snapshot, const redis::AsyncClientStats& stats) {
  // Operation names and outcomes as the pooled client's; `kind` tells the two apart.
  snapshot.add_operations(layer_name(Layer::redis), "async_command", stats.commands);
  add_async_connection_metrics(snapshot, stats, "redis async");
}

void add_redis_async_cluster_metrics(MetricsSnapshot& snapshot,
                                     const redis::AsyncClusterStats& stats) {
  const std::string layer(layer_name(Layer::redis));
  snapshot.add_operations(layer, "async_command", stats.commands);
  for (const redis::AsyncClusterNodeStats& node : stats.nodes) {
    if (node.has_client)
      add_async_connection_metrics(snapshot, node.client, "redis async " + node.address);
  }
  const MetricLabels labels{{"layer", layer}, {"client", "async"}};
  const auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    snapshot.add_counter(name, help, labels, static_cast<double>(value));
  };
  counter("redis_async_cluster_topology_refreshes", "Slot maps read by the async cluster client",
          stats.topology_refreshes);
  counter("redis_async_cluster_moved", "MOVED redirects followed by the async cluster client",
          stats.moved);
  counter("redis_async_cluster_ask", "ASK redirects followed by the async cluster client",
          stats.ask);
  counter("redis_async_cluster_try_again", "TRYAGAIN and CLUSTERDOWN replies waited out",
          stats.try_again);
  counter("redis_async_cluster_node_failures", "Replies that were a failed node's error",
          stats.node_failures);
}

void add_redis_async_cluster_details(LayerHealth& h, const redis::AsyncClusterStats& s) {
  detail(
      h, "async_cluster",
      fmt::format("{} map refreshes, {} MOVED, {} ASK, {} TRYAGAIN/CLUSTERDOWN, {} node "
                  "failures, {} resent to a new owner",
                  s.topology_refreshes, s.moved, s.ask, s.try_again, s.node_failures, s.retries));
  for (const redis::AsyncClusterNodeStats& node : s.nodes) {
    if (!node.has_client) continue;
    const redis::AsyncClientStats& c = node.client;
    detail(h, "async node " + node.address,
           fmt::format("{} of {} connections open, {} pending ({} in flight), {} writes, {} "
                       "commands, {} pending timeouts",
                       c.connected, c.connections, c.pending, c.in_flight, c.writes,
                       c.batched_commands, c.pending_timeouts));
    if (c.pending_timeouts > 0) {
      signal(h, fmt::format("{} async commands to {} timed out waiting for a pending slot: raise "
                            "{} (per node) if the node keeps up",
                            c.pending_timeouts, node.address, setting::kRedisMaxPending));
    }
  }
}

void add_redis_cluster_metrics(MetricsSnapshot& snapshot, const redis::ClusterStats& stats) {
  const std::string layer(layer_name(Layer::redis));
  for (const redis::ClusterNodeStats& node : stats.nodes) {
    if (!node.has_pool) continue;
    PoolStats pool = node.client.pool;
    pool.name = "redis " + node.address;  // one series per node, not one "redis" for all
    snapshot.add_pool(layer, pool);
  }
  snapshot.add_operations(layer, "command", stats.commands);
  const MetricLabels labels{{"layer", layer}};
  const auto with = [&](const char* kind) {
    MetricLabels l = labels;
    l["kind"] = kind;
    return l;
  };
  snapshot.add_counter("redis_cluster_topology_refreshes", "Slot maps read from a node", labels,
                       static_cast<double>(stats.topology_refreshes));
  snapshot.add_counter("redis_cluster_redirects", "MOVED and ASK redirects followed", with("moved"),
                       static_cast<double>(stats.moved));
  snapshot.add_counter("redis_cluster_redirects", "", with("ask"), static_cast<double>(stats.ask));
  snapshot.add_counter("redis_cluster_try_again", "TRYAGAIN and CLUSTERDOWN replies waited out",
                       labels, static_cast<double>(stats.try_again));
  snapshot.add_counter("redis_cluster_node_failures", "Calls that met a failed node", labels,
                       static_cast<double>(stats.node_failures));
  snapshot.add_counter("redis_cluster_split_commands", "Multi-key commands split by slot", labels,
                       static_cast<double>(stats.split_commands));
  snapshot.add_counter("redis_cluster_replica_reads", "Reads sent to a replica", labels,
                       static_cast<double>(stats.replica_reads));
}

void add_redis_sentinel_metrics(MetricsSnapshot& snapshot, const redis::SentinelStats& stats) {
  add_redis_metrics(snapshot, stats.client);
  const MetricLabels labels{{"layer", std::string(layer_name(Layer::redis))}};
  const auto by = [&](const char* cause) {
    MetricLabels l = labels;
    l["cause"] = cause;
    return l;
  };
  const auto& followed = stats.failovers_followed;
  snapshot.add_counter("redis_sentinel_failovers",
                       "Master moves followed, by what made the client ask the sentinels",
                       by("subscription"), static_cast<double>(followed.subscription));
  snapshot.add_counter("redis_sentinel_failovers", "", by("error"),
                       static_cast<double>(followed.error));
  snapshot.add_counter("redis_sentinel_failovers", "", by("query"),
                       static_cast<double>(followed.query));
  snapshot.add_counter("redis_sentinel_resolves", "Questions to the sentinels for the master",
                       labels, static_cast<double>(stats.resolves));
  snapshot.add_counter("redis_sentinel_retries", "Calls repeated after a failure of the master",
                       labels, static_cast<double>(stats.retries));
  snapshot.add_counter("redis_sentinel_replica_reads", "Reads sent to a replica", labels,
                       static_cast<double>(stats.replica_reads));
}

void add_http_metrics(MetricsSnapshot& snapshot, std::string_view layer, const http::Metrics& m) {
  snapshot.add_operations(layer, "request", m.requests);
  for (const auto& host : m.hosts) {
    const MetricLabels labels{{"layer", std::string(layer)}, {"host", host.host}};
    auto with = [&](const char* key, const char* value) {
      MetricLabels l = labels;
      l[key] = value;
      return l;
    };
    snapshot.add_counter("http_connections", "Requests by whether they opened a new connection",
                         with("connection", "new"), static_cast<double>(host.connections_new));
    snapshot.add_counter("http_connections", "", with("connection", "reused"),
                         static_cast<double>(host.connections_reused));
    snapshot.add_counter("http_retries", "Requests repeated after a failure", labels,
                         static_cast<double>(host.retries));
    snapshot.add_gauge("http_waiting", "Requests waiting for a connection slot", labels,
                       static_cast<double>(host.waiting));
    snapshot.add_gauge("http_in_flight", "Attempts running", labels,
                       static_cast<double>(host.in_flight));
    snapshot.add_gauge("http_in_flight_peak", "Most attempts running at once since the start",
                       labels, static_cast<double>(host.peak_in_flight));
    snapshot.add_gauge("http_circuit_state", "Circuit breaker: 0 closed, 1 half-open, 2 open",
                       labels,
                       host.circuit == CircuitState::closed      ? 0.0
                       : host.circuit == CircuitState::half_open ? 1.0
                                                                 : 2.0);
  }
}

}  // namespace poolkit::detail
