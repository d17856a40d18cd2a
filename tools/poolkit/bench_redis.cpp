// `poolkit bench redis`: N threads run GET on one key (set at start) through redis::Client, or
// with --no-reuse open, use and close a connection per GET (the "re-create" baseline). With
// --async the same GETs go through redis::AsyncClient: --inflight N keeps N in flight (each
// started from the last one's callback, on the client's I/O thread), --threads T has T threads
// call the blocking get(); the report adds the batch sizes reached and the client's CPU time
// per command.

#include <fmt/format.h>
#include <sys/resource.h>

#include <atomic>
#include <future>
#include <memory>
#include <utility>

#include "bench_redis_keys.hpp"
#include "bench_runner.hpp"
#include "bench_workloads.hpp"
#include "commands.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/redis_async.hpp"
#include "poolkit/redis_async_cluster.hpp"
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

struct AsyncArguments {
  bool async = false;
  int inflight = 0;              // > 0: commands in flight from callbacks
  int threads = 0;               // > 0: threads calling the blocking get()
  bool pool_size_given = false;  // --pool-size: the connections, else the setting's
};

// The process's user + system CPU time.
std::chrono::microseconds process_cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  auto micros = [](const timeval& t) {
    return std::chrono::seconds(t.tv_sec) + std::chrono::microseconds(t.tv_usec);
  };
  return std::chrono::duration_cast<std::chrono::microseconds>(micros(usage.ru_utime) +
                                                               micros(usage.ru_stime));
}

// The multiplexed connections' counters, over every node of a cluster client.
struct AsyncTotals {
  std::uint64_t connections = 0;
  std::uint64_t connected = 0;
  std::uint64_t writes = 0;
  std::uint64_t commands = 0;
  std::uint64_t max_batch = 0;
  void add(const redis::AsyncClientStats& stats) {
    connections += stats.connections;
    connected += stats.connected;
    writes += stats.writes;
    commands += stats.batched_commands;
    max_batch = std::max(max_batch, stats.max_batch);
  }
};
AsyncTotals totals_of(const redis::AsyncClient& client) {
  AsyncTotals totals;
  totals.add(client.stats());
  return totals;
}
AsyncTotals totals_of(const redis::AsyncClusterClient& client) {
  AsyncTotals totals;
  for (const auto& node : client.stats().nodes) totals.add(node.client);
  return totals;
}

// Batch sizes and CPU per command since the workload was made.
template <class Client>
std::function<std::vector<std::pair<std::string, double>>()> async_figures(
    const std::shared_ptr<Client>& client) {
  const auto cpu_before = process_cpu_time();
  const auto before = totals_of(*client);
  return [client, cpu_before, before] {
    const auto after = totals_of(*client);
    const double writes = static_cast<double>(after.writes - before.writes);
    const double commands = static_cast<double>(after.commands - before.commands);
    const double cpu_us = static_cast<double>((process_cpu_time() - cpu_before).count());
    return std::vector<std::pair<std::string, double>>{
        {"batch_mean", writes > 0 ? commands / writes : 0.0},
        {"batch_max", static_cast<double>(after.max_batch)},
        {"cpu_us_per_op", commands > 0 ? cpu_us / commands : 0.0},
    };
  };
}

// GETs through an async client (AsyncClient or AsyncClusterClient) of the key `key_for(n)`
// gives for the n-th call: from callbacks in flight, or from threads calling the blocking get().
template <class Client>
Workload async_get_workload(const std::shared_ptr<Client>& client, bool callbacks,
                            std::function<std::string_view(std::size_t)> key_for) {
  Workload workload;
  if (callbacks) {
    auto calls = std::make_shared<std::atomic<std::size_t>>(0);
    workload.run = AsyncWorkload{
        .start =
            [client, calls, key_for](std::function<void(std::exception_ptr)> done) {
              try {
                const std::string_view key = key_for(calls->fetch_add(1));
                client->send({"GET", key}, [done](redis::AsyncResult result) {
                  try {
                    result.get();
                    done(nullptr);
                  } catch (...) {
                    done(std::current_exception());
                  }
                });
              } catch (...) {
                done(std::current_exception());
              }
            },
        .connections_opened = [client] { return totals_of(*client).connections; },
    };
  } else {
    workload.run = ThreadWorkload{
        .make_worker = [client, key_for](int worker) -> std::function<void()> {
          // Each thread walks the keys from its own start, so a cluster's masters share the load.
          auto next = std::make_shared<std::size_t>(static_cast<std::size_t>(worker) * 7919);
          return [client, key_for, next] { client->get(key_for((*next)++)); };
        },
        .connections_opened = [client] { return totals_of(*client).connections; },
    };
  }
  workload.peak_in_use = [client] { return totals_of(*client).connected; };
  workload.extra = async_figures(client);
  return workload;
}

}  // namespace

Workload redis_async_workload(const BenchOptions& options, RedisSettings settings, bool callbacks) {
  // A pending bound below the load would measure the bound, not the client.
  settings.max_pending =
      std::max<std::size_t>(settings.max_pending, static_cast<std::size_t>(options.concurrency));
  auto client = std::make_shared<redis::AsyncClient>(settings);
  client->set(kBenchKey, kBenchValue);
  return async_get_workload(client, callbacks, [](std::size_t) { return kBenchKey; });
}

Workload redis_async_cluster_workload(const BenchOptions& options, RedisSettings settings,
                                      bool callbacks) {
  settings.max_pending =
      std::max<std::size_t>(settings.max_pending, static_cast<std::size_t>(options.concurrency));
  auto client = std::make_shared<redis::AsyncClusterClient>(settings);
  auto keys = std::make_shared<const std::vector<std::string>>(spread_bench_keys());
  std::vector<std::future<redis::Reply>> sets;
  for (const std::string& key : *keys) sets.push_back(client->send("SET", key, kBenchValue));
  for (auto& set : sets) set.get();
  return async_get_workload(client, callbacks, [keys](std::size_t n) -> std::string_view {
    return (*keys)[n % keys->size()];
  });
}

namespace {

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

// The async client's runs (AsyncClient, or AsyncClusterClient in cluster mode), connections reused;
// --inflight or --threads set the concurrency, --pool-size (else REDIS_MULTIPLEX_CONNECTIONS) the
// connections.
WorkloadFactory async_factory(BenchOptions& options, const RedisSettings& settings,
                              const AsyncArguments& async) {
  if (settings.mode == RedisMode::sentinel || !options.reuse) {
    fmt::print(stderr,
               "poolkit bench redis: --async runs in standalone or cluster mode, with reuse\n");
    throw CLI::RuntimeError(kExitInvalid);
  }
  if (async.inflight > 0) options.concurrency = async.inflight;
  if (async.threads > 0 && async.inflight == 0) options.concurrency = async.threads;
  if (!async.pool_size_given) options.pool_size = settings.multiplex_connections;
  return [settings, callbacks = async.inflight > 0](const BenchOptions& run) {
    RedisSettings sized = settings;
    sized.multiplex_connections = run.pool_size;
    return settings.mode == RedisMode::cluster ? redis_async_cluster_workload(run, sized, callbacks)
                                               : redis_async_workload(run, sized, callbacks);
  };
}

void run_bench_redis(BenchOptions options, bool strict_fifo, const std::string& mode,
                     const AsyncArguments& async) {
  RedisSettings settings = bench_settings(options);
  apply_mode(mode, options, settings);
  const WorkloadFactory factory =
      async.async ? async_factory(options, settings, async) : redis_factory(settings, strict_fifo);
  try {
    run_bench_command(options, factory,
                      std::string(async.async ? setting::kRedisMultiplexConnections
                                              : setting::kRedisMaxConnections));
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
  auto async = std::make_shared<AsyncArguments>();
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
  command->add_flag("--async", async->async,
                    fmt::format("Through the async, multiplexed client ({} connections, "
                                "--pool-size sets it)",
                                setting::kRedisMultiplexConnections));
  command
      ->add_option("--inflight", async->inflight,
                   "With --async: commands kept in flight, each started from the last one's "
                   "callback (sets --concurrency)")
      ->check(CLI::Range(1, 100000));
  command
      ->add_option("--threads", async->threads,
                   "With --async: threads calling the blocking get() (sets --concurrency)")
      ->check(CLI::Range(1, 10000));
  // --inflight or --threads stand for --concurrency in async runs.
  command->get_option("--concurrency")->required(false);
  command->callback([options, strict_fifo, mode, async, command] {
    const bool sized =
        command->count("--concurrency") > 0 || async->inflight > 0 || async->threads > 0;
    if (!sized) {
      fmt::print(stderr,
                 "poolkit bench redis: --concurrency is required (or, with --async, "
                 "--inflight / --threads)\n");
      throw CLI::RuntimeError(kExitInvalid);
    }
    if (!async->async && (async->inflight > 0 || async->threads > 0)) {
      fmt::print(stderr, "poolkit bench redis: --inflight and --threads need --async\n");
      throw CLI::RuntimeError(kExitInvalid);
    }
    async->pool_size_given = command->count("--pool-size") > 0;
    run_bench_redis(*options, *strict_fifo, *mode, *async);
  });
}

}  // namespace poolkit::cli
