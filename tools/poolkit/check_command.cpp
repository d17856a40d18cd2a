// `poolkit check [--env-file FILE] [--only LAYERS] [--http-url URL] [--json]`: connects to each
// configured backend and reports health, server version, pool state and the saturation signals
// with their remedies. Exit 0 when every configured layer is healthy, 1 when one failed, 2 when
// the configuration is invalid or a layer named in --only is not configured. Secrets are masked
// everywhere.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <poolkit/error.hpp>
#include <poolkit/poolkit.hpp>
#include <poolkit/settings.hpp>

#include "commands.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::cli {
namespace {

struct CheckArguments {
  std::string env_file;
  std::vector<std::string> only;
  std::string http_url;
  bool json = false;
  const CLI::Option* env_file_option = nullptr;
};

void print_text(const Health& health) {
  for (const LayerHealth& layer : health.layers) {
    if (!layer.configured) {
      fmt::print(
          "{:<10} skipped   {} is not set\n", layer.layer,
          layer.layer == layer_name(Layer::redis) ? setting::kRedisUrl : setting::kMongodbUrl);
      continue;
    }
    fmt::print("{:<10} {:<9} {:>9.2f} ms{}\n", layer.layer, layer.ok ? "ok" : "FAILED",
               static_cast<double>(layer.latency.count()) / 1000.0,
               layer.ok ? "" : "  " + layer.error);
    for (const auto& [key, value] : layer.details) fmt::print("  {:<18} {}\n", key, value);
  }
  fmt::print("\n{}\n",
             health.ok() ? "all configured backends are healthy" : "some backends are NOT healthy");
}

// The variable that enables a layer; empty for the HTTP layers, which need none.
std::string_view enabling_variable(std::string_view layer) {
  if (layer == layer_name(Layer::redis)) return setting::kRedisUrl;
  if (layer == layer_name(Layer::mongo)) return setting::kMongodbUrl;
  return {};
}

// A layer named in --only must be checked: one that is not configured cannot be, and calling it
// healthy would hide the missing variable. Returns false after naming each such layer.
bool selected_layers_are_configured(const Pools& pools, const std::vector<std::string>& only) {
  bool all_configured = true;
  for (const std::string& layer : only) {
    if (pools.configured(layer)) continue;
    fmt::print(stderr,
               "poolkit check: --only {}: the {} layer is not configured, so it cannot be "
               "checked: {} is not set. Set it (e.g. in .env), or leave {} out of --only\n",
               layer, layer, enabling_variable(layer), layer);
    all_configured = false;
  }
  return all_configured;
}

// Settings validation judges every URL as the clients will, so a client that still cannot be
// created from the settings (ConfigError) is a configuration error as well: exit 2, like config,
// not a failed backend. Any other failure is left to the health check to report.
bool clients_can_be_created(Pools& pools, const std::vector<std::string>& only) {
  bool created = true;
  for (const std::string_view layer : {"redis", "mongo"}) {
    const bool selected = only.empty() || std::find(only.begin(), only.end(), layer) != only.end();
    if (!selected || !pools.configured(layer)) continue;
    try {
      if (layer == layer_name(Layer::redis)) {
        if (pools.settings().redis.mode == RedisMode::cluster) {
          pools.redis_cluster();
        } else if (pools.settings().redis.mode == RedisMode::sentinel) {
          pools.redis_sentinel();
        } else {
          pools.redis();
        }
      } else {
        pools.mongo();
      }
    } catch (const ConfigError& error) {
      fmt::print(stderr, "poolkit check: {}: {}\n", layer, error.what());
      created = false;
    } catch (const std::exception&) {
      // Reported by the health check, with the layer's other details.
    }
  }
  return created;
}

int run_check(const CheckArguments& arguments) {
  LoadOptions load;
  if (arguments.env_file_option->count() > 0) load.env_file = arguments.env_file;
  LoadResult loaded = load_settings(load);
  if (!loaded.ok()) {
    fmt::print(stderr, "poolkit check: the configuration is invalid ({} error{}):\n",
               loaded.errors.size(), loaded.errors.size() == 1 ? "" : "s");
    for (const auto& problem : loaded.errors) fmt::print(stderr, "  - {}\n", problem.message);
    fmt::print(stderr, "run `poolkit config` to see every setting and where it came from\n");
    return kExitInvalid;
  }
  // Warnings (certificate checks turned off, values outside their range) on every run: a
  // check that passes must not hide them.
  for (const auto& problem : loaded.warnings)
    fmt::print(stderr, "poolkit check: warning: {}\n", problem.message);
  const std::vector<std::string> only = selected_layers("check", arguments.only);
  Pools pools(std::move(*loaded.settings), PoolsOptions{.log = [](std::string_view) {}});
  if (!selected_layers_are_configured(pools, only) || !clients_can_be_created(pools, only)) {
    return kExitInvalid;
  }
  HealthOptions options{.only = only, .http_probe_url = arguments.http_url};
  const Health health = pools.health(options);
  if (arguments.json)
    fmt::print("{}\n", health.to_json());
  else
    print_text(health);
  pools.close();
  return health.ok() ? kExitOk : kExitFailure;
}

}  // namespace

void add_check_command(CLI::App& app) {
  auto arguments = std::make_shared<CheckArguments>();
  CLI::App* command =
      app.add_subcommand("check", "Connect to each configured backend and report its health");
  arguments->env_file_option = command->add_option(
      "--env-file", arguments->env_file, "Dotenv file to read (default: ./.env when it exists)");
  command
      ->add_option("--only", arguments->only,
                   "Layers to check: comma list of redis, mongo, http, http_sync")
      ->delimiter(',');
  command->add_option("--http-url", arguments->http_url, "A URL to GET as the HTTP layers' probe");
  command->add_flag("--json", arguments->json, "Print one JSON object");
  command->callback([arguments] {
    const int status = run_check(*arguments);
    if (status != kExitOk) throw CLI::RuntimeError(status);
  });
}

}  // namespace poolkit::cli
