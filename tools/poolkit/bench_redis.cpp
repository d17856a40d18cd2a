// `poolkit bench redis`: N threads run GET on one key (set at start) through redis::Client, or
// with --no-reuse open, use and close a connection per GET (the "re-create" baseline).

#include <fmt/format.h>

#include <atomic>
#include <memory>
#include <utility>

#include "bench_runner.hpp"
#include "bench_workloads.hpp"
#include "commands.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/setting_names.hpp"
#include "poolkit/settings.hpp"
#include "poolkit/url.hpp"

namespace poolkit::cli {
namespace {

// Three bytes, like redis-benchmark's default value, so both measure the same reply.
constexpr std::string_view kBenchKey = "poolkit:bench";
constexpr std::string_view kBenchValue = "xxx";

// REDIS_* settings from the environment, with --url on top (and --pool-size defaulting to
// REDIS_MAX_CONNECTIONS). Exits 2 when the
// configuration or the URL is invalid.
RedisSettings bench_settings(BenchOptions& options) {
  try {
    RedisSettings settings = Settings::from_environment().redis;
    if (!options.url.empty()) settings.url = parse_url(options.url);
    if (!settings.url) {
      throw ConfigError(fmt::format("no Redis URL: pass --url redis://host:port/0 or set {}",
                                    setting::kRedisUrl));
    }
    options.url = settings.url->redacted();  // only ever printed from here on
    if (options.pool_size == 0) options.pool_size = settings.max_connections;
    return settings;
  } catch (const ConfigError& error) {
    fmt::print(stderr, "poolkit bench redis: {}\n", error.what());
    throw CLI::RuntimeError(kExitInvalid);
  }
}

ThreadWorkload reuse_workload(const std::shared_ptr<redis::Client>& client) {
  return ThreadWorkload{
      .make_worker = [client](int) -> std::function<void()> {
        return [client] {
          // A server restarted without persistence lost the key: a miss, not an outage.
          if (!client->get(kBenchKey)) client->set(kBenchKey, kBenchValue);
        };
      },
      .connections_opened = [client] { return client->stats().pool.created; },
  };
}

ThreadWorkload no_reuse_workload(const std::shared_ptr<redis::Client>& client) {
  auto opened = std::make_shared<std::atomic<std::uint64_t>>(0);
  return ThreadWorkload{
      .make_worker = [client, opened](int) -> std::function<void()> {
        return [client, opened] {
          redis::Connection connection = client->open_unpooled();
          opened->fetch_add(1, std::memory_order_relaxed);
          if (connection.command("GET", kBenchKey).is_nil()) {
            connection.command("SET", kBenchKey, kBenchValue);
          }
        };
      },
      .connections_opened = [opened] { return opened->load(); },
  };
}

// --mode on top of REDIS_MODE; exits 2 on a combination the mode cannot run.
void apply_mode(const std::string& mode, const BenchOptions& options, RedisSettings& settings) {
  if (mode == "standalone") settings.mode = RedisMode::standalone;
  if (mode == "cluster") settings.mode = RedisMode::cluster;
  if (mode == "sentinel") settings.mode = RedisMode::sentinel;
  std::string problem;
  if (settings.mode != RedisMode::standalone && !options.reuse) {
    problem = "--no-reuse is supported in standalone mode only";
  } else if (settings.mode == RedisMode::sentinel &&
             (!settings.sentinel_master || settings.sentinel_master->empty())) {
    problem = fmt::format(
        "sentinel mode needs {}, the name the sentinels monitor the master under "
        "(e.g. {}=mymaster); --url lists the sentinels",
        setting::kRedisSentinelMaster, setting::kRedisSentinelMaster);
  }
  if (problem.empty()) return;
  fmt::print(stderr, "poolkit bench redis: {}\n", problem);
  throw CLI::RuntimeError(kExitInvalid);
}

WorkloadFactory redis_factory(const RedisSettings& settings, bool strict_fifo) {
  switch (settings.mode) {
    case RedisMode::cluster:
      return [settings](const BenchOptions& run) { return redis_cluster_workload(run, settings); };
    case RedisMode::sentinel:
      return [settings](const BenchOptions& run) { return redis_sentinel_workload(run, settings); };
    case RedisMode::standalone:
      break;
  }
  return [settings, strict_fifo](const BenchOptions& run) {
    return redis_workload(run, settings, strict_fifo);
  };
}

void run_bench_redis(BenchOptions options, bool strict_fifo, const std::string& mode) {
  RedisSettings settings = bench_settings(options);
  apply_mode(mode, options, settings);
  try {
    run_bench_command(options, redis_factory(settings, strict_fifo),
                      std::string(setting::kRedisMaxConnections));
  } catch (const ConfigError&) {
    throw;
  } catch (const Error& error) {
    fmt::print(stderr, "poolkit bench redis: cannot set up the bench key: {}\n", error.what());
    throw CLI::RuntimeError(kExitFailure);
  }
}

}  // namespace

// One client per run (a --sweep makes one per pool size); it lives as long as the workload.
Workload redis_workload(const BenchOptions& options, RedisSettings settings, bool strict_fifo) {
  settings.max_connections = options.pool_size;
  redis::ClientOptions client_options;
  client_options.strict_fifo = strict_fifo;
  auto client = std::make_shared<redis::Client>(settings, client_options);
  client->set(kBenchKey, kBenchValue);
  Workload workload{.run = options.reuse ? reuse_workload(client) : no_reuse_workload(client)};
  workload.in_use = [client] { return client->stats().pool.in_use; };
  return workload;
}

void add_bench_redis(CLI::App& bench) {
  auto options = std::make_shared<BenchOptions>();
  auto strict_fifo = std::make_shared<bool>(false);
  auto mode = std::make_shared<std::string>();
  options->backend = "redis";
  CLI::App* command =
      bench.add_subcommand("redis", "GET one key from N threads through the Redis pool");
  command->add_option("--url", options->url,
                      fmt::format("Redis URL (default: {})", setting::kRedisUrl));
  add_bench_options(*command, *options);
  command->add_flag("--strict-fifo", *strict_fifo,
                    "Strict FIFO check-out (the pool's CMAP mode) instead of the client's default");
  command
      ->add_option("--mode", *mode,
                   fmt::format("standalone, cluster or sentinel (default: {}); in cluster mode "
                               "the keys cover every slot and --pool-size bounds each node's "
                               "pool; sentinel mode needs {} and --url listing the sentinels",
                               setting::kRedisMode, setting::kRedisSentinelMaster))
      ->check(CLI::IsMember({"standalone", "cluster", "sentinel"}));
  command->callback(
      [options, strict_fifo, mode] { run_bench_redis(*options, *strict_fifo, *mode); });
}

}  // namespace poolkit::cli
