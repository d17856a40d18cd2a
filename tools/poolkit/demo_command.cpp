// `poolkit demo`: starts redis-server, FerretDB and nginx on free loopback ports, runs each
// layer's bench workload re-creating a connection per operation and then through the pool, sweeps
// the pool size, then compares the same two over TLS (where a re-created connection also pays a
// handshake), and prints a report (and writes it as HTML with charts). demo_servers.hpp starts
// and always stops the servers.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <poolkit/error.hpp>
#include <poolkit/poolkit.hpp>
#include <poolkit/settings.hpp>
#include <poolkit/url.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_runner.hpp"
#include "bench_workloads.hpp"
#include "commands.hpp"
#include "demo_failover.hpp"
#include "demo_report.hpp"
#include "demo_servers.hpp"
#include "local_servers/ferretdb.hpp"
#include "local_servers/servers.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::cli {
namespace {

struct DemoOptions {
  double duration_s = 3.0;
  int concurrency = 16;
  std::vector<std::string> only{};  // --only values, each a comma list
  std::string html = "poolkit-demo-report.html";
  bool short_run = false;
  bool tls = true;        // also the re-created vs pooled rows over TLS
  bool cluster = false;   // the failover demo on a local Redis Cluster instead
  bool sentinel = false;  // the same on a local Sentinel set
};

// Long enough for the steady state, the kill, the ~2 s election and the recovery after it.
constexpr double kClusterDemoSeconds = 15.0;

[[noreturn]] void invalid(const std::string& message) {
  fmt::print(stderr, "poolkit demo: {}\n", message);
  throw CLI::RuntimeError(kExitInvalid);
}

struct LayerPlan {
  std::string layer;
  std::string url;  // redacted
  std::string size_setting;
  WorkloadFactory factory;
};

struct RunShape {
  int concurrency;
  double duration_s;
  double sweep_duration_s;
  std::vector<std::size_t> sweep_sizes;
};

BenchReport measure(const LayerPlan& plan, const RunShape& shape, const std::string& label,
                    std::size_t pool_size, bool reuse, double duration_s) {
  BenchOptions options;
  options.backend = fmt::format("{} {}", plan.layer, label);
  options.concurrency = shape.concurrency;
  options.duration_s = duration_s;
  options.pool_size = pool_size;
  options.reuse = reuse;
  return run_bench(options, plan.factory(options));
}

// Re-created vs pooled only: over TLS the lesson is what a handshake per operation costs; the
// pool size is the plaintext sweep's business.
LayerResult run_comparison(const LayerPlan& plan, const RunShape& shape) {
  LayerResult result{.layer = plan.layer, .url = plan.url, .concurrency = shape.concurrency};
  result.size_setting = plan.size_setting;
  const auto pool = static_cast<std::size_t>(shape.concurrency);
  try {
    result.recreated = measure(plan, shape, "re-created", pool, false, shape.duration_s);
    result.pooled = measure(plan, shape, "pooled", pool, true, shape.duration_s);
  } catch (const std::exception& error) {
    result.failure = error.what();
    return result;
  }
  result.peak_in_use = result.pooled.peak_in_use;
  result.recommended_size = pool;
  result.details.emplace_back("connections opened", fmt::format("{} re-created, {} pooled",
                                                                result.recreated.connections_opened,
                                                                result.pooled.connections_opened));
  return result;
}

LayerResult run_layer(const LayerPlan& plan, const RunShape& shape) {
  LayerResult result = run_comparison(plan, shape);
  if (!result.failure.empty()) return result;
  try {
    for (const std::size_t size : shape.sweep_sizes) {
      result.sweep.push_back({size, measure(plan, shape, fmt::format("pool {}", size), size, true,
                                            shape.sweep_duration_s)});
    }
  } catch (const std::exception& error) {
    result.failure = error.what();
    return result;
  }
  // At a fixed concurrency the peak in use is the concurrency, so "peak + 20%" would say
  // nothing the sweep does not: the recommendation is the sweep's knee.
  result.choice = choose_pool_size(result.sweep);
  result.recommended_size = result.choice.size;
  result.details.emplace_back(
      "peak in use", fmt::format("{} of {} (pooled run)", result.peak_in_use, shape.concurrency));
  return result;
}

// Health, server version and pool state of each layer, from a registry on the same settings.
// Its pools are sized as the pooled runs were, so the pool state reads the same.
void add_health(std::vector<LayerResult>& results, Settings settings,
                const std::string& http_probe_url, int concurrency) {
  const auto size = static_cast<std::size_t>(concurrency);
  settings.redis.max_connections = size;
  settings.mongo.max_pool_size = size;
  settings.mongo.min_pool_size = std::min(settings.mongo.min_pool_size, size);
  settings.http_async.limit_per_host = size;
  settings.http_sync.pool_maxsize = size;
  Pools pools(std::move(settings), PoolsOptions{.log = [](std::string_view) {}});
  std::vector<std::string> only;
  for (const auto& r : results)
    if (r.failure.empty()) only.push_back(r.layer);
  if (only.empty()) return;
  const Health health = pools.health({.only = only, .http_probe_url = http_probe_url});
  for (const auto& layer : health.layers) {
    for (auto& r : results) {
      if (r.layer != layer.layer) continue;
      r.details.emplace_back(
          "health", layer.ok ? fmt::format("ok in {:.2f} ms",
                                           static_cast<double>(layer.latency.count()) / 1000.0)
                             : "failed: " + layer.error);
      r.details.insert(r.details.end(), layer.details.begin(), layer.details.end());
    }
  }
  pools.close();
}

std::string now_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return text;
}

RunShape shape_of(const DemoOptions& options) {
  RunShape shape{.concurrency = options.concurrency,
                 .duration_s = options.duration_s,
                 .sweep_duration_s = std::max(0.2, options.duration_s / 3.0),
                 .sweep_sizes = {}};
  if (options.short_run) shape = {4, 0.4, 0.2, {}};
  shape.sweep_sizes = parse_sweep(fmt::format("1:{}", shape.concurrency));
  return shape;
}

// `layer` may carry a "+tls" suffix: the plan is the layer's, named as given.
LayerPlan plan_for(const std::string& named, const Started& started) {
  const Settings& settings = started.settings;
  const std::string layer = named.substr(0, named.find('+'));
  if (layer == layer_name(Layer::redis))
    return {named, settings.redis.url->redacted(), std::string(setting::kRedisMaxConnections),
            [redis = settings.redis](const BenchOptions& o) { return redis_workload(o, redis); }};
  if (layer == layer_name(Layer::mongo))
    return {named, settings.mongo.url->redacted(), std::string(setting::kMongodbMaxPoolSize),
            [mongo = settings.mongo](const BenchOptions& o) { return mongo_workload(o, mongo); }};
  const bool sync = layer == layer_name(Layer::http_sync);
  return {named, started.http_url,
          std::string(sync ? setting::kRequestsPoolMaxsize : setting::kAiohttpLimitPerHost),
          [settings, sync, url = started.http_url](const BenchOptions& o) {
            BenchOptions with_url = o;
            with_url.url = url;
            return http_workload(with_url, settings, sync);
          }};
}

std::vector<LayerResult> run_layers(const std::vector<std::string>& layers, const Started& started,
                                    const RunShape& shape) {
  std::vector<LayerResult> results;
  for (const auto& layer : layers) {
    const auto failed = std::find_if(started.failures.begin(), started.failures.end(),
                                     [&](const auto& f) { return f.first == layer; });
    if (failed != started.failures.end()) {
      results.push_back(LayerResult{.layer = layer, .failure = failed->second});
      continue;
    }
    const LayerPlan plan = plan_for(layer, started);
    if (layer == layer_name(Layer::mongo)) {
      try {
        seed_mongo(started.settings.mongo);
      } catch (const std::exception& error) {
        results.push_back(LayerResult{.layer = layer, .url = plan.url, .failure = error.what()});
        continue;
      }
    }
    results.push_back(run_layer(plan, shape));
  }
  return results;
}

// The same comparison over TLS, for the layers that ran in plaintext.
std::vector<LayerResult> run_tls_layers(LocalServers& servers,
                                        const std::vector<std::string>& layers,
                                        const RunShape& shape) {
  const Started started = start_tls_servers(servers, layers);
  std::vector<LayerResult> results;
  for (const std::string& layer :
       {std::string("redis"), std::string("mongo"), std::string("http")}) {
    if (std::find(layers.begin(), layers.end(), layer) == layers.end()) continue;
    const std::string named = layer + "+tls";
    const auto failed = std::find_if(started.failures.begin(), started.failures.end(),
                                     [&](const auto& f) { return f.first == named; });
    if (failed != started.failures.end()) {
      results.push_back(LayerResult{.layer = named, .failure = failed->second});
      continue;
    }
    const bool ready = (layer == "redis" && started.settings.redis.url) ||
                       (layer == "mongo" && started.settings.mongo.url) ||
                       (layer == "http" && !started.http_url.empty());
    if (!ready) continue;
    const LayerPlan plan = plan_for(named, started);
    try {
      if (layer == "mongo") seed_mongo(started.settings.mongo);
    } catch (const std::exception& error) {
      results.push_back(LayerResult{.layer = named, .url = plan.url, .failure = error.what()});
      continue;
    }
    results.push_back(run_comparison(plan, shape));
  }
  return results;
}

// `--cluster` / `--sentinel`: a master killed under load, reported as a time chart.
void run_failover_demo(const DemoOptions& options) {
  const std::string flag = options.cluster ? "--cluster" : "--sentinel";
  LocalServers servers;
  const InterruptWatcher watcher(servers);  // before any other thread starts
  try {
    const auto duration = std::chrono::milliseconds(std::lround(options.duration_s * 1000));
    const FailoverRun run = options.cluster
                                ? run_cluster_failover(servers, options.concurrency, duration)
                                : run_sentinel_failover(servers, options.concurrency, duration);
    servers.stop_all();
    fmt::print("{}", render_failover_report(run));
  } catch (const std::exception& error) {
    servers.stop_all();
    fmt::print(stderr, "poolkit demo {}: {}\n", flag, error.what());
    throw CLI::RuntimeError(kExitFailure);
  }
}

void run_demo(const DemoOptions& options) {
  if (options.cluster || options.sentinel) {
    if (options.cluster && options.sentinel) invalid("--cluster or --sentinel: one at a time");
    if (!options.only.empty())
      invalid(fmt::format("{} runs the failover demo alone: drop --only",
                          options.cluster ? "--cluster" : "--sentinel"));
    run_failover_demo(options);
    return;
  }
  std::vector<std::string> layers = selected_layers("demo", options.only);
  if (layers.empty()) {
    for (const Layer layer : kBackendLayers) layers.emplace_back(layer_name(layer));
  }
  // Checked before minutes of measuring, not after.
  if (options.html.empty() || !std::ofstream(options.html))
    invalid(fmt::format("--html {:?}: cannot write the report there; give a writable file",
                        options.html));
  const RunShape shape = shape_of(options);

  LocalServers servers;
  const InterruptWatcher watcher(servers);  // before any other thread starts
  try {
    const Started started = start_servers(servers, layers);
    std::vector<LayerResult> results = run_layers(layers, started, shape);
    add_health(results, started.settings, started.http_url, shape.concurrency);
    if (options.tls) {
      std::vector<LayerResult> over_tls = run_tls_layers(servers, layers, shape);
      results.insert(results.end(), std::make_move_iterator(over_tls.begin()),
                     std::make_move_iterator(over_tls.end()));
    }
    servers.stop_all();

    fmt::print("{}", render_text_report(results));
    std::ofstream html(options.html);
    html << render_html_report(results, now_utc());
    html.close();
    if (!html) {
      fmt::print(stderr, "poolkit demo: cannot write the HTML report to {}\n", options.html);
      throw CLI::RuntimeError(kExitFailure);
    }
    fmt::print("\nHTML report: {}\n", options.html);
  } catch (const CLI::RuntimeError&) {
    throw;
  } catch (const std::exception& error) {
    servers.stop_all();
    fmt::print(stderr, "poolkit demo: {}\n", error.what());
    throw CLI::RuntimeError(kExitFailure);
  }
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto options = std::make_shared<DemoOptions>();
  CLI::App* demo = app.add_subcommand(
      "demo",
      "Start local Redis, FerretDB and nginx, compare pooled and re-created connections, and "
      "write an HTML report");
  CLI::Option* duration =
      demo->add_option("--duration", options->duration_s,
                       fmt::format("Seconds per run (default 3; with --cluster the whole load, "
                                   "default {:.0f})",
                                   kClusterDemoSeconds))
          ->check(CLI::Range(0.1, 600.0));
  demo->add_option("--concurrency", options->concurrency, "Workers per run (default 16)")
      ->check(CLI::Range(1, 1024));
  demo->add_option("--only", options->only,
                   "Comma-separated layers: redis,mongo,http,http_sync (default: all)")
      ->delimiter(',');
  demo->add_option("--html", options->html,
                   "Where to write the HTML report (default poolkit-demo-report.html)");
  demo->add_flag("--short", options->short_run,
                 "A quick run for the tests: 0.4 s per run, concurrency 4, sweep 1:4");
  demo->add_flag("--tls,!--no-tls", options->tls,
                 "Also compare re-created and pooled connections over TLS (default: on)");
  demo->add_flag("--cluster", options->cluster,
                 "Instead: start a 6-node Redis Cluster, run INCR/GET from --concurrency threads, "
                 "kill a master 30% into the run and chart the errors and the recovery (text)");
  demo->add_flag("--sentinel", options->sentinel,
                 "Instead: the same with a master, its replica and 3 sentinels "
                 "(SentinelClient)");
  demo->callback([options, duration] {
    const bool failover = options->cluster || options->sentinel;
    if (failover && duration->count() == 0) options->duration_s = kClusterDemoSeconds;
    if (failover && options->duration_s < 5)
      invalid(
          "--cluster and --sentinel need --duration of at least 5 s: the election alone "
          "takes about 2 s");
    run_demo(*options);
  });
}

}  // namespace poolkit::cli
