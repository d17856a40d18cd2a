#pragma once
// Every poolkit setting, declared once in a table (setting_specs()) and read from, first found
// wins: the process environment, a dotenv file, the selected profile, the built-in default.
//
// Parsing is strict: a bad value is an error that names the variable, the value given (masked
// when secret) and what is expected; nothing is ever silently replaced by a default. A value
// outside its recommended range is accepted with a warning (unless it is the active profile's own
// value: dev deliberately runs small pools). The CLI table, the JSON output and
// docs/configuration.md are all views of the same table.

#include <array>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/tls.hpp"
#include "poolkit/url.hpp"

namespace poolkit {

// ---------------------------------------------------------------------------------------------
// The table

// The one list of layers: the settings table groups its rows by it, and the registry, the CLI
// (--only), health reports and metric labels name the four backends by layer_name().
enum class Layer { general, mongo, redis, http_async, http_sync };

// The backend layers, in the order reports list them.
inline constexpr std::array<Layer, 4> kBackendLayers{Layer::redis, Layer::mongo, Layer::http_async,
                                                     Layer::http_sync};
// A layer's short name: "redis", "mongo", "http" (the async client), "http_sync", "general".
std::string_view layer_name(Layer layer) noexcept;
// The layer with that short name, or nullopt.
std::optional<Layer> layer_from_name(std::string_view name) noexcept;

enum class ValueKind {
  count,         // a whole number of things
  milliseconds,  // a whole number of milliseconds
  seconds,       // seconds with up to 3 decimals ("2.5")
  url,           // a connection URL; `choices` lists the schemes allowed
  text,          // free text, e.g. an application name
  token,         // printable ASCII without spaces, e.g. a Redis client name
  address,       // host:port to listen on, e.g. 127.0.0.1:9464 or [::1]:9464
  choice,        // one word of `choices`
  list,          // comma-separated words of `choices`
  bytes,         // a size: digits, optionally with a KiB, MiB or GiB suffix ("64MiB")
  boolean,       // true/false (also 1/0, yes/no, on/off)
  path,          // a file or folder path (TLS files are checked for content as they load)
};

enum class Profile { dev, staging, production };

// Bounds in the unit the variable is written in (seconds for `seconds`).
struct ValueRange {
  double min = 0;
  double max = 0;
  bool min_exclusive = false;  // "greater than min" rather than "at least min"
};

// A profile's value for a variable; empty when the profile leaves it to the default.
struct ProfileValues {
  std::string_view dev{};
  std::string_view staging{};
  std::string_view production{};

  constexpr std::string_view operator[](Profile profile) const noexcept {
    switch (profile) {
      case Profile::dev:
        return dev;
      case Profile::staging:
        return staging;
      case Profile::production:
        return production;
    }
    return {};
  }
};

struct SettingSpec {
  std::string_view name{};
  Layer layer = Layer::general;
  ValueKind kind = ValueKind::text;
  std::optional<std::string_view> default_value{};  // nullopt: unset unless given
  ValueRange valid{};                               // count, milliseconds, seconds: hard bounds
  std::optional<ValueRange> recommended{};          // outside it: a warning
  ProfileValues profile_values{};
  std::span<const std::string_view> choices{};  // choice, list: the words; url: the schemes
  std::size_t max_length = 0;                   // text, token: bytes; 0 = no limit
  bool secret = false;                          // shown masked everywhere
  // Read in this order when the variable itself is not set: conventions other tools already
  // honour (REQUESTS_CA_BUNDLE, ...). The source then names the variable the value came from.
  std::span<const std::string_view> fallbacks{};
  std::string_view help{};  // one line
};

// The table, in display order (grouped by layer).
std::span<const SettingSpec> setting_specs() noexcept;
const SettingSpec* find_setting_spec(std::string_view name) noexcept;

std::string_view to_string(Layer layer) noexcept;      // "MongoDB", "Async HTTP", ...
std::string_view to_string(ValueKind kind) noexcept;   // "count", "seconds", ...
std::string_view to_string(Profile profile) noexcept;  // "dev", "staging", "production"
std::optional<Profile> parse_profile(std::string_view name) noexcept;

// How a value given by the user is shown: whole when it is short; else its first
// kShownValueBytes bytes (never cutting a UTF-8 character) followed by "… (N bytes)". A value
// may be a megabyte of garbage, and every message and table row that shows one stays short.
inline constexpr std::size_t kShownValueBytes = 40;
std::string shorten_value(std::string_view value);
// The same in double quotes with control characters escaped, as error messages quote a value:
// "10x", or "aaaa…"… (1048576 bytes).
std::string quote_value(std::string_view value);

// What a variable accepts, e.g. "a whole number from 1 to 100000 (digits only)".
std::string describe_expected(const SettingSpec& spec);
// The recommended range as text, e.g. "50–200"; nullopt when there is none.
std::optional<std::string> describe_recommended(const SettingSpec& spec);

// ---------------------------------------------------------------------------------------------
// Typed settings, one struct per layer. Durations are exact: seconds are parsed to milliseconds.

struct MongoSettings {
  std::optional<Url> url;  // nullopt: the MongoDB layer is disabled
  std::size_t max_pool_size{};
  std::size_t min_pool_size{};
  std::chrono::milliseconds wait_queue_timeout{};
  std::chrono::milliseconds max_idle_time{};
  std::chrono::milliseconds server_selection_timeout{};
  std::chrono::milliseconds socket_timeout{};
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds heartbeat_frequency{};
  std::optional<std::string> appname;
  std::vector<std::string> compressors;  // in order of preference
};

// REDIS_MODE (SPEC §4).
enum class RedisMode { standalone, cluster, sentinel };
// REDIS_READ_FROM: where read-only commands go in cluster and sentinel mode.
enum class RedisReadFrom { master, replica, replica_preferred };

struct RedisSettings {
  // TLS, for rediss:// URLs: REDIS_SSL_* (the URL's ssl_* query options win over these).
  TlsOptions tls{};
  std::optional<Url> url;  // nullopt: the Redis layer is disabled
  std::size_t max_connections{};
  std::chrono::milliseconds connect_timeout{};
  std::chrono::milliseconds socket_timeout{};
  std::chrono::milliseconds health_check_interval{};
  std::chrono::milliseconds wait_timeout{};
  int retry_attempts{};
  std::optional<std::string> client_name;  // nullopt: the process name
  std::size_t max_reply_bytes{};           // largest reply; also bounds bulk strings and arrays
  RedisMode mode = RedisMode::standalone;
  RedisReadFrom read_from = RedisReadFrom::master;
  std::optional<std::string> sentinel_master;    // required in sentinel mode
  std::optional<std::string> sentinel_password;  // secret; nullopt: the sentinels need none
  // The async client (SPEC §5): connections shared by all its callers, and the most commands
  // queued or in flight.
  std::size_t multiplex_connections{};
  std::size_t max_pending{};
};

struct HttpResilienceSettings {
  int max_attempts{};
  std::chrono::milliseconds backoff_base{};
  std::chrono::milliseconds backoff_max{};
  std::chrono::milliseconds jitter{};
};

struct CircuitBreakerSettings {
  int failure_threshold{};
  std::chrono::milliseconds recovery{};
  int half_open_success{};
};

struct AsyncHttpSettings {
  std::size_t pool_limit{};
  std::size_t limit_per_host{};  // 0: no per-host limit
  std::chrono::milliseconds timeout_total{};
  std::chrono::milliseconds dns_ttl{};  // 0: no DNS caching
  std::chrono::milliseconds keepalive_timeout{};
  HttpResilienceSettings resilience;
  CircuitBreakerSettings circuit_breaker;
  std::size_t max_response_bytes{};  // HTTP_MAX_RESPONSE_BYTES: largest response body accepted
  TlsOptions tls{};                  // HTTP_CA_BUNDLE (and its fallbacks), HTTP_CLIENT_*, ...
};

struct SyncHttpSettings {
  std::size_t pool_connections{};
  std::size_t pool_maxsize{};
  std::chrono::milliseconds timeout{};
  int retries{};
  std::chrono::milliseconds retry_backoff{};  // urllib3 backoff factor
  std::size_t max_response_bytes{};           // HTTP_MAX_RESPONSE_BYTES, as for the async client
  TlsOptions tls{};                           // the same TLS settings as the async client
};

// ---------------------------------------------------------------------------------------------
// Loading

// A snapshot of environment variables, name → value.
using Environment = std::map<std::string, std::string, std::less<>>;
Environment process_environment();

struct LoadOptions {
  // A dotenv file to read; it must exist. When not given, ./.env is read if it exists and
  // `discover_env_file` is set.
  std::optional<std::filesystem::path> env_file;
  bool discover_env_file = true;
  // A profile that wins over POOLKIT_PROFILE (e.g. from a --profile option).
  std::optional<std::string> profile;
  // The variables to read instead of the process environment (tests, embedding).
  std::optional<Environment> environment;
};

struct Settings {
  std::optional<Profile> profile;
  // POOLKIT_METRICS_ADDR: where /metrics and /healthz are served; nullopt: not served.
  std::optional<std::string> metrics_addr;
  MongoSettings mongo;
  RedisSettings redis;
  AsyncHttpSettings http_async;
  SyncHttpSettings http_sync;

  // Loads the settings (by default: process environment, ./.env if present, POOLKIT_PROFILE).
  // Throws ConfigError listing every error; warnings are dropped (use load_settings to see them).
  static Settings from_environment(const LoadOptions& options = {});
  // The built-in defaults alone: no environment, no dotenv file, no profile.
  static Settings defaults();
};

enum class SourceKind { option, environment, dotenv, profile, default_value, unset };

struct Source {
  SourceKind kind = SourceKind::unset;
  // dotenv: "path:line"; profile: its name; environment: the fallback variable read instead of
  // the setting's own (e.g. "REQUESTS_CA_BUNDLE"), else empty.
  std::string detail;

  // "option", "env", "env:REQUESTS_CA_BUNDLE", "path:line", "profile:NAME", "default" or
  // "unset".
  std::string to_string() const;
};

struct SettingEntry {
  const SettingSpec* spec = nullptr;
  std::optional<std::string> raw;      // the text found; may hold a secret: print `display`
  std::optional<std::string> display;  // the text with secrets masked; nullopt when unset
  Source source;
};

struct SettingProblem {
  std::string name;     // the variable concerned (or the dotenv file for a malformed line)
  std::string message;  // complete and free of secrets
};

struct LoadResult {
  std::optional<std::filesystem::path> env_file;  // the dotenv file read (or tried), if any
  std::optional<Profile> profile;                 // the profile in effect, if any
  std::vector<SettingEntry> entries;              // one per table row, in table order
  std::vector<SettingProblem> warnings;
  std::vector<SettingProblem> errors;
  std::optional<Settings> settings;  // present exactly when there are no errors

  bool ok() const noexcept { return errors.empty(); }
  const SettingEntry* find(std::string_view name) const noexcept;
};

// Never throws for bad values: every problem is collected in the result.
LoadResult load_settings(const LoadOptions& options = {});

// The configuration reference (docs/configuration.md), generated from the table.
std::string configuration_reference_markdown();

}  // namespace poolkit
