// `poolkit demo`: starts redis-server, FerretDB and nginx on free loopback ports, runs each
// layer's bench workload re-creating a connection per operation and then through the pool, sweeps
// the pool size, and prints a report (and writes it as HTML with charts). Every server it started
// is stopped on the way out: normal exit, error, or SIGINT/SIGTERM (a signal thread kills their
// process groups, since the main thread may be deep inside a run).

#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
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
#include "demo_report.hpp"
#include "local_servers/ferretdb.hpp"
#include "local_servers/servers.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::cli {
namespace {

constexpr const char* kHttpFile = "/poolkit-demo.txt";

struct DemoOptions {
  double duration_s = 3.0;
  int concurrency = 16;
  std::vector<std::string> only{};  // --only values, each a comma list
  std::string html = "poolkit-demo-report.html";
  bool short_run = false;
};

[[noreturn]] void invalid(const std::string& message) {
  fmt::print(stderr, "poolkit demo: {}\n", message);
  throw CLI::RuntimeError(kExitInvalid);
}

bool wants(const std::vector<std::string>& layers, std::string_view layer) {
  return std::find(layers.begin(), layers.end(), layer) != layers.end();
}

// A password for the demo's redis-server: random per run, so nothing can depend on it, and the
// report shows it masked like any other.
std::string random_password() {
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 35);
  std::string password = "demo-";
  for (int i = 0; i < 20; ++i) password += "abcdefghijklmnopqrstuvwxyz0123456789"[digit(device)];
  return password;
}

// The servers the demo started, shared with the signal thread. Servers are started and stopped
// under the lock, so a signal never misses one that is half started.
class LocalServers {
 public:
  std::unique_ptr<local::RedisServer> redis;
  std::unique_ptr<local::NginxServer> nginx;
  std::unique_ptr<local::FerretDbServer> ferretdb;

  template <class Server, class... Args>
  void start(std::unique_ptr<Server>& slot, Args&&... args) {
    const std::lock_guard lock(mutex_);
    slot = std::make_unique<Server>(std::forward<Args>(args)...);
  }

  void stop_all() {
    const std::lock_guard lock(mutex_);
    redis.reset();
    nginx.reset();
    ferretdb.reset();
  }

  // From the signal thread: SIGKILL every server's process group and remove its folder. The
  // objects stay as they are (the process is about to _exit). Returns how many were running.
  int kill_all() {
    const std::lock_guard lock(mutex_);
    int killed = 0;
    const auto kill = [&killed](const auto& server) {
      if (!server || server->process_group() <= 0) return;
      ::kill(-server->process_group(), SIGKILL);
      std::error_code ignored;
      std::filesystem::remove_all(server->scratch_dir(), ignored);
      ++killed;
    };
    kill(redis);
    kill(nginx);
    kill(ferretdb);
    return killed;
  }

 private:
  std::mutex mutex_;
};

// Waits for SIGINT/SIGTERM (blocked in every thread before any starts) and ends the process after
// stopping the servers. Destruction ends the wait.
class InterruptWatcher {
 public:
  explicit InterruptWatcher(LocalServers& servers) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    // A shell starts background jobs with SIGINT ignored, and an ignored signal is discarded
    // rather than left pending for sigwait: the demo must stop its servers on it all the same.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigaction(SIGINT, &default_action, nullptr);
    sigaction(SIGTERM, &default_action, nullptr);
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    thread_ = std::thread([this, &servers] { wait(servers); });
  }
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;
  ~InterruptWatcher() {
    finished_ = true;
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }

 private:
  void wait(LocalServers& servers) {
    int signo = 0;
    while (sigwait(&signals_, &signo) != 0) {
    }
    if (finished_) return;
    const int stopped = servers.kill_all();
    fmt::print(stderr, "\ninterrupted: stopped {} local servers\n", stopped);
    std::fflush(stderr);
    ::_exit(130);
  }

  sigset_t signals_{};
  sigset_t previous_{};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

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

LayerResult run_layer(const LayerPlan& plan, const RunShape& shape) {
  LayerResult result{.layer = plan.layer, .url = plan.url, .concurrency = shape.concurrency};
  result.size_setting = plan.size_setting;
  const auto pool = static_cast<std::size_t>(shape.concurrency);
  try {
    result.recreated = measure(plan, shape, "re-created", pool, false, shape.duration_s);
    result.pooled = measure(plan, shape, "pooled", pool, true, shape.duration_s);
    result.peak_in_use = result.pooled.peak_in_use;
    for (const std::size_t size : shape.sweep_sizes) {
      result.sweep.push_back({size, measure(plan, shape, fmt::format("pool {}", size), size, true,
                                            shape.sweep_duration_s)});
    }
    // At a fixed concurrency the peak in use is the concurrency, so "peak + 20%" would say
    // nothing the sweep does not: the recommendation is the sweep's knee.
    result.choice = choose_pool_size(result.sweep);
    result.recommended_size = result.choice.size;
  } catch (const std::exception& error) {
    result.failure = error.what();
    return result;
  }
  result.details.emplace_back("connections opened", fmt::format("{} re-created, {} pooled",
                                                                result.recreated.connections_opened,
                                                                result.pooled.connections_opened));
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

// Starts what the selected layers need; a server that cannot start fails its layers only.
struct Started {
  Settings settings = Settings::defaults();
  std::string http_url{};
  std::vector<std::pair<std::string, std::string>> failures{};  // layer, why
};

Started start_servers(LocalServers& servers, const std::vector<std::string>& layers) {
  Started started;
  started.settings.redis.url.reset();
  started.settings.mongo.url.reset();
  const auto fail = [&started](std::initializer_list<std::string_view> names,
                               const std::string& why) {
    for (const std::string_view name : names) started.failures.emplace_back(name, why);
  };
  if (wants(layers, layer_name(Layer::redis))) {
    try {
      servers.start(servers.redis, local::RedisServer::Options{.password = random_password()});
      started.settings.redis.url = parse_url(servers.redis->url());
      fmt::print(stderr, "started redis-server on 127.0.0.1:{}\n", servers.redis->port());
    } catch (const std::exception& error) {
      fail({layer_name(Layer::redis)}, error.what());
    }
  }
  if (wants(layers, layer_name(Layer::mongo))) {
    if (const auto reason = local::FerretDbServer::unavailable_reason()) {
      fail({layer_name(Layer::mongo)}, *reason);
    } else {
      try {
        servers.start(servers.ferretdb);
        started.settings.mongo.url = parse_url(servers.ferretdb->url());
        fmt::print(stderr, "started FerretDB on 127.0.0.1:{}\n", servers.ferretdb->port());
      } catch (const std::exception& error) {
        fail({layer_name(Layer::mongo)}, error.what());
      }
    }
  }
  if (wants(layers, layer_name(Layer::http_async)) || wants(layers, layer_name(Layer::http_sync))) {
    try {
      servers.start(servers.nginx);
      std::ofstream(servers.nginx->root() / (kHttpFile + 1)) << std::string(512, 'x') << "\n";
      started.http_url = servers.nginx->url(kHttpFile);
      fmt::print(stderr, "started nginx on 127.0.0.1:{}\n", servers.nginx->port());
    } catch (const std::exception& error) {
      fail({layer_name(Layer::http_async), layer_name(Layer::http_sync)}, error.what());
    }
  }
  return started;
}

LayerPlan plan_for(const std::string& layer, const Started& started) {
  const Settings& settings = started.settings;
  if (layer == layer_name(Layer::redis))
    return {layer, settings.redis.url->redacted(), std::string(setting::kRedisMaxConnections),
            [redis = settings.redis](const BenchOptions& o) { return redis_workload(o, redis); }};
  if (layer == layer_name(Layer::mongo))
    return {layer, settings.mongo.url->redacted(), std::string(setting::kMongodbMaxPoolSize),
            [mongo = settings.mongo](const BenchOptions& o) { return mongo_workload(o, mongo); }};
  const bool sync = layer == layer_name(Layer::http_sync);
  return {layer, started.http_url,
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

void run_demo(const DemoOptions& options) {
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
  demo->add_option("--duration", options->duration_s, "Seconds per run (default 3)")
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
  demo->callback([options] { run_demo(*options); });
}

}  // namespace poolkit::cli
