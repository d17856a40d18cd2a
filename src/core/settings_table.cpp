// The one table of every poolkit setting. Parsing, validation, the CLI and the docs all read it;
// to add a variable, add its name to include/poolkit/setting_names.hpp, a row here and a line in
// settings_typed.cpp that stores it.

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"
#include "poolkit/settings.hpp"
#include "settings_detail.hpp"

namespace poolkit {
namespace {

// Hard upper bounds: far above any sane value, low enough to catch a typo (an extra zero or
// two) and to keep every duration comfortably inside std::chrono::milliseconds.
constexpr double kMaxSize = 100'000;
constexpr double kMaxAttempts = 100;
constexpr double kOneDayMs = 86'400'000;
constexpr double kOneHourSeconds = 3'600;
constexpr double kOneDaySeconds = 86'400;

constexpr ValueRange kAnySize{1, kMaxSize};
constexpr ValueRange kSizeOrZero{0, kMaxSize};
constexpr ValueRange kPositiveMs{1, kOneDayMs};
constexpr ValueRange kPositiveSeconds{0, kOneHourSeconds, true};
constexpr ValueRange kSecondsOrZero{0, kOneHourSeconds};
// A reply or response limit: below 1 KiB even an error page would not fit; above 4 GiB the
// limit no longer protects a service's memory.
constexpr ValueRange kPayloadBytes{1024, 4294967296.0};

constexpr std::array<std::string_view, 3> kProfileNames{"dev", "staging", "production"};
constexpr std::array<std::string_view, 3> kMongoCompressors{"zstd", "snappy", "zlib"};
constexpr std::array<std::string_view, 2> kMongoSchemes{"mongodb", "mongodb+srv"};
constexpr std::array<std::string_view, 3> kRedisSchemes{"redis", "rediss", "unix"};
// SPEC §4: one server, a Redis Cluster (REDIS_URL lists seed nodes), or a master found through
// Sentinel (REDIS_URL lists the sentinels).
constexpr std::array<std::string_view, 3> kRedisModes{"standalone", "cluster", "sentinel"};
constexpr std::array<std::string_view, 3> kRedisReadFrom{"master", "replica", "replica_preferred"};
// redis-py's ssl_cert_reqs words; "optional" is read as "required", as Python does for clients.
constexpr std::array<std::string_view, 3> kCertRequirements{"required", "optional", "none"};
// The conventions Python and curl users already rely on, in the order requests reads them.
constexpr std::array<std::string_view, 4> kCaBundleFallbacks{"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                                                             "SSL_CERT_FILE", "SSL_CERT_DIR"};

using enum ValueKind;

constexpr std::array kSettingSpecs{
    // --- General --------------------------------------------------------------------------
    SettingSpec{.name = setting::kPoolkitProfile,
                .layer = Layer::general,
                .kind = choice,
                .choices = kProfileNames,
                .help = "tuning profile whose values apply where a variable is not set"},
    SettingSpec{.name = setting::kPoolkitMetricsAddr,
                .layer = Layer::general,
                .kind = address,
                .help =
                    "serve /metrics (Prometheus) and /healthz there, e.g. 127.0.0.1:9464; unset: "
                    "not served. Use a loopback address unless scrapers run elsewhere"},

    // --- MongoDB --------------------------------------------------------------------------
    SettingSpec{.name = setting::kMongodbUrl,
                .layer = Layer::mongo,
                .kind = url,
                .choices = kMongoSchemes,
                .secret = true,
                .help = "connection string, e.g. mongodb://user:pass@host:27017/db; "
                        "unset disables the MongoDB layer"},
    SettingSpec{.name = setting::kMongodbMaxPoolSize,
                .layer = Layer::mongo,
                .kind = count,
                .default_value = "100",
                .valid = kAnySize,
                .recommended = ValueRange{50, 200},
                .profile_values = {"20", "75", "100"},
                .help = "most connections (in use + idle + connecting)"},
    SettingSpec{.name = setting::kMongodbMinPoolSize,
                .layer = Layer::mongo,
                .kind = count,
                .default_value = "5",
                .valid = kSizeOrZero,
                .recommended = ValueRange{5, 10},
                .profile_values = {"2", "5", "5"},
                .help = "connections kept open and warm, created in the background"},
    SettingSpec{.name = setting::kMongodbWaitQueueTimeoutMs,
                .layer = Layer::mongo,
                .kind = milliseconds,
                .default_value = "5000",
                .valid = kPositiveMs,
                .recommended = ValueRange{2000, 5000},
                .help = "longest wait for a free connection, then a timeout error"},
    SettingSpec{.name = setting::kMongodbMaxIdleTimeMs,
                .layer = Layer::mongo,
                .kind = milliseconds,
                .default_value = "30000",
                .valid = kPositiveMs,
                .recommended = ValueRange{30000, 60000},
                .help = "an idle connection older than this is closed"},
    SettingSpec{.name = setting::kMongodbServerSelectionTimeoutMs,
                .layer = Layer::mongo,
                .kind = milliseconds,
                .default_value = "3000",
                .valid = kPositiveMs,
                .help = "longest wait for a suitable server before an operation fails"},
    SettingSpec{.name = setting::kMongodbSocketTimeoutMs,
                .layer = Layer::mongo,
                .kind = milliseconds,
                .default_value = "20000",
                .valid = kPositiveMs,
                .help = "longest wait for a read or write on a connection"},
    SettingSpec{.name = setting::kMongodbConnectTimeoutMs,
                .layer = Layer::mongo,
                .kind = milliseconds,
                .default_value = "10000",
                .valid = kPositiveMs,
                .help = "longest wait to open a connection"},
    // Drivers refuse to monitor more often than every 500 ms (minHeartbeatFrequencyMS).
    SettingSpec{.name = setting::kMongodbHeartbeatFrequencyMs,
                .layer = Layer::mongo,
                .kind = milliseconds,
                .default_value = "10000",
                .valid = {500, kOneDayMs},
                .help = "how often each server is checked"},
    // The handshake's application name is limited to 128 bytes by the MongoDB handshake spec.
    SettingSpec{.name = setting::kMongodbAppname,
                .layer = Layer::mongo,
                .kind = text,
                .max_length = 128,
                .help = "application name sent in the handshake, e.g. CodeBot"},
    SettingSpec{.name = setting::kMongodbCompressors,
                .layer = Layer::mongo,
                .kind = list,
                .choices = kMongoCompressors,
                .help = "wire compressors to offer, in order of preference"},

    // --- Redis ----------------------------------------------------------------------------
    SettingSpec{.name = setting::kRedisUrl,
                .layer = Layer::redis,
                .kind = url,
                .choices = kRedisSchemes,
                .secret = true,
                .help = "redis://[user:pass@]host:6379/0, rediss://… (TLS; ssl_* query options "
                        "win over REDIS_SSL_*) or unix:///path.sock?db=0; several hosts "
                        "(redis://h1:p1,h2:p2/0) only in cluster mode (seed nodes) or sentinel "
                        "mode (the sentinels); unset disables the Redis layer"},
    SettingSpec{.name = setting::kRedisMaxConnections,
                .layer = Layer::redis,
                .kind = count,
                .default_value = "100",
                .valid = kAnySize,
                .recommended = ValueRange{50, 200},
                .profile_values = {"20", "75", "100"},
                .help = "most connections; callers beyond it wait (bounded). In cluster mode "
                        "the bound of each node's pool (as redis-py's RedisCluster)"},
    SettingSpec{.name = setting::kRedisConnectTimeout,
                .layer = Layer::redis,
                .kind = seconds,
                .default_value = "2.0",
                .valid = kPositiveSeconds,
                .recommended = ValueRange{1, 5},
                .help = "longest wait to open a connection"},
    SettingSpec{.name = setting::kRedisSocketTimeout,
                .layer = Layer::redis,
                .kind = seconds,
                .default_value = "2.0",
                .valid = kPositiveSeconds,
                .recommended = ValueRange{1, 5},
                .help = "deadline for one command: its write and its whole reply"},
    SettingSpec{.name = setting::kRedisHealthCheckInterval,
                .layer = Layer::redis,
                .kind = seconds,
                .default_value = "30",
                .valid = {0, kOneDaySeconds, true},
                .help = "a connection idle longer than this is PINGed before reuse"},
    SettingSpec{.name = setting::kRedisWaitTimeout,
                .layer = Layer::redis,
                .kind = seconds,
                .default_value = "5.0",
                .valid = kPositiveSeconds,
                .help = "longest wait for a free connection"},
    SettingSpec{.name = setting::kRedisRetryAttempts,
                .layer = Layer::redis,
                .kind = count,
                .default_value = "3",
                .valid = {0, kMaxAttempts},
                .help = "retries on connection errors and timeouts (exponential backoff, jitter)"},
    SettingSpec{.name = setting::kRedisClientName,
                .layer = Layer::redis,
                .kind = token,
                .help = "name set with CLIENT SETNAME on connect; unset: the process name"},
    SettingSpec{.name = setting::kRedisMaxReplyBytes,
                .layer = Layer::redis,
                .kind = bytes,
                .default_value = "64MiB",
                .valid = kPayloadBytes,
                .help = "largest reply accepted; also bounds one bulk string, and array lengths "
                        "are checked against it before anything is allocated"},
    SettingSpec{.name = setting::kRedisSslCaCerts,
                .layer = Layer::redis,
                .kind = path,
                .help = "rediss://: PEM bundle of the CAs that sign the server's certificate; "
                        "unset: the system trust store"},
    SettingSpec{.name = setting::kRedisSslCertfile,
                .layer = Layer::redis,
                .kind = path,
                .help = "rediss://: client certificate (PEM) for mutual TLS"},
    SettingSpec{.name = setting::kRedisSslKeyfile,
                .layer = Layer::redis,
                .kind = path,
                .help = "rediss://: the client certificate's private key (PEM); unset: read from "
                        "the certificate's file"},
    SettingSpec{.name = setting::kRedisSslCertReqs,
                .layer = Layer::redis,
                .kind = choice,
                .default_value = "required",
                .choices = kCertRequirements,
                .help = "rediss://: `none` accepts any server certificate (warned about on every "
                        "run); `optional` means `required`"},
    SettingSpec{.name = setting::kRedisSslCheckHostname,
                .layer = Layer::redis,
                .kind = boolean,
                .default_value = "true",
                .help = "rediss://: check the certificate's name against the URL's host"},
    SettingSpec{.name = setting::kRedisMode,
                .layer = Layer::redis,
                .kind = choice,
                .default_value = "standalone",
                .choices = kRedisModes,
                .help =
                    "standalone (one server), cluster (the URL lists seed nodes; the connection "
                    "bound applies to each node) or sentinel (the URL lists the sentinels)"},
    SettingSpec{.name = setting::kRedisReadFrom,
                .layer = Layer::redis,
                .kind = choice,
                .default_value = "master",
                .choices = kRedisReadFrom,
                .help = "where read-only commands go in cluster and sentinel mode: master, "
                        "replica, or replica_preferred (a replica when one is reachable); writes "
                        "always go to masters"},
    SettingSpec{.name = setting::kRedisSentinelMaster,
                .layer = Layer::redis,
                .kind = token,
                .help = "sentinel mode: the name the sentinels monitor the master under, e.g. "
                        "mymaster (required there)"},
    SettingSpec{.name = setting::kRedisSentinelPassword,
                .layer = Layer::redis,
                .kind = text,
                .secret = true,
                .help = "sentinel mode: the sentinels' password, when it differs from the data "
                        "nodes' (unset: the sentinels need none)"},
    SettingSpec{.name = setting::kRedisMultiplexConnections,
                .layer = Layer::redis,
                .kind = count,
                .default_value = "2",
                .valid = ValueRange{1, 64},
                .recommended = ValueRange{1, 4},
                .help = "async client: connections to the server shared by all its callers; "
                        "every command queued while a write is in flight goes out in the next "
                        "one (automatic pipelining)"},
    SettingSpec{.name = setting::kRedisMaxPending,
                .layer = Layer::redis,
                .kind = count,
                .default_value = "10000",
                .valid = ValueRange{1, 10'000'000},
                .recommended = ValueRange{1000, 100'000},
                .help = "async client: most commands queued or in flight; callers beyond it wait "
                        "for a slot (as long as for a pooled connection), then get a timeout "
                        "naming this limit"},

    // --- Async HTTP (the aiohttp role) ----------------------------------------------------
    SettingSpec{.name = setting::kAiohttpPoolLimit,
                .layer = Layer::http_async,
                .kind = count,
                .default_value = "100",
                .valid = kAnySize,
                .recommended = ValueRange{50, 200},
                .profile_values = {"20", "75", "100"},
                .help = "most connections in use at once, all hosts"},
    SettingSpec{.name = setting::kAiohttpLimitPerHost,
                .layer = Layer::http_async,
                .kind = count,
                .default_value = "25",
                .valid = kSizeOrZero,
                .recommended = ValueRange{10, 50},
                .profile_values = {"10", "25", "25"},
                .help = "most connections per host:port; 0 = no per-host limit"},
    SettingSpec{.name = setting::kAiohttpTimeoutTotal,
                .layer = Layer::http_async,
                .kind = seconds,
                .default_value = "15",
                .valid = kPositiveSeconds,
                .recommended = ValueRange{10, 15},
                .profile_values = {"10", "15", "15"},
                .help =
                    "whole request: the wait for a free connection, every attempt and the waits "
                    "between retries"},
    SettingSpec{.name = setting::kAiohttpDnsTtl,
                .layer = Layer::http_async,
                .kind = seconds,
                .default_value = "300",
                .valid = {0, kOneDaySeconds},
                .help = "DNS cache lifetime; 0 = no caching"},
    SettingSpec{.name = setting::kAiohttpKeepaliveTimeout,
                .layer = Layer::http_async,
                .kind = seconds,
                .default_value = "15",
                .valid = kPositiveSeconds,
                .help = "idle keep-alive connections older than this are closed, not reused"},
    SettingSpec{.name = setting::kHttpResilienceMaxAttempts,
                .layer = Layer::http_async,
                .kind = count,
                .default_value = "3",
                .valid = {1, kMaxAttempts},
                .help = "attempts (first try included) for connect errors, 5xx and 429"},
    SettingSpec{.name = setting::kHttpResilienceBackoffBase,
                .layer = Layer::http_async,
                .kind = seconds,
                .default_value = "0.25",
                .valid = kSecondsOrZero,
                .help = "first backoff, doubling with each retry"},
    SettingSpec{.name = setting::kHttpResilienceBackoffMax,
                .layer = Layer::http_async,
                .kind = seconds,
                .default_value = "8.0",
                .valid = kSecondsOrZero,
                .help = "backoff cap"},
    SettingSpec{.name = setting::kHttpResilienceJitter,
                .layer = Layer::http_async,
                .kind = seconds,
                .default_value = "0.5",
                .valid = kSecondsOrZero,
                .help = "most random extra added to each wait"},
    SettingSpec{.name = setting::kCircuitBreakerFailureThreshold,
                .layer = Layer::http_async,
                .kind = count,
                .default_value = "5",
                .valid = kAnySize,
                .help = "consecutive failures per host that open the circuit"},
    SettingSpec{.name = setting::kCircuitBreakerRecoverySeconds,
                .layer = Layer::http_async,
                .kind = seconds,
                .default_value = "30",
                .valid = {0, kOneDaySeconds, true},
                .help = "an open circuit turns half-open after this"},
    SettingSpec{.name = setting::kCircuitBreakerHalfOpenSuccess,
                .layer = Layer::http_async,
                .kind = count,
                .default_value = "1",
                .valid = {1, kMaxAttempts},
                .help = "successes in half-open state that close the circuit"},
    SettingSpec{.name = setting::kHttpMaxResponseBytes,
                .layer = Layer::http_async,
                .kind = bytes,
                .default_value = "64MiB",
                .valid = kPayloadBytes,
                .help = "largest response body accepted by either HTTP client (a request may "
                        "set its own)"},
    SettingSpec{.name = setting::kHttpCaBundle,
                .layer = Layer::http_async,
                .kind = path,
                .fallbacks = kCaBundleFallbacks,
                .help = "both HTTP clients: CA bundle (PEM file) or hashed CA directory; unset: "
                        "REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE, SSL_CERT_DIR, then "
                        "the system trust store"},
    SettingSpec{.name = setting::kHttpClientCert,
                .layer = Layer::http_async,
                .kind = path,
                .help = "both HTTP clients: client certificate (PEM) for mutual TLS"},
    SettingSpec{.name = setting::kHttpClientKey,
                .layer = Layer::http_async,
                .kind = path,
                .help = "both HTTP clients: the client certificate's private key (PEM); unset: "
                        "read from the certificate's file"},
    SettingSpec{.name = setting::kHttpTlsVerify,
                .layer = Layer::http_async,
                .kind = boolean,
                .default_value = "true",
                .help = "both HTTP clients: `false` accepts any certificate for any name (warned "
                        "about on every run)"},

    // --- Sync HTTP (the requests role) ----------------------------------------------------
    SettingSpec{.name = setting::kRequestsPoolConnections,
                .layer = Layer::http_sync,
                .kind = count,
                .default_value = "20",
                .valid = kAnySize,
                .recommended = ValueRange{20, 50},
                .help = "how many distinct hosts keep pooled connections"},
    SettingSpec{.name = setting::kRequestsPoolMaxsize,
                .layer = Layer::http_sync,
                .kind = count,
                .default_value = "100",
                .valid = kAnySize,
                .recommended = ValueRange{50, 200},
                .help = "most connections per host"},
    SettingSpec{.name = setting::kRequestsTimeout,
                .layer = Layer::http_sync,
                .kind = seconds,
                .default_value = "8",
                .valid = kPositiveSeconds,
                .help = "default timeout of a whole request, its retries and their waits included"},
    SettingSpec{.name = setting::kRequestsRetries,
                .layer = Layer::http_sync,
                .kind = count,
                .default_value = "2",
                .valid = {0, kMaxAttempts},
                .recommended = ValueRange{2, 3},
                .help = "retries with urllib3 Retry semantics (500/502/503/504, connect errors)"},
    SettingSpec{.name = setting::kRequestsRetryBackoff,
                .layer = Layer::http_sync,
                .kind = seconds,
                .default_value = "0.2",
                .valid = kSecondsOrZero,
                .help = "urllib3 backoff factor f: sleeps 0, 2f, 4f, ... between retries"},
};

constexpr bool names_are_unique() {
  for (std::size_t i = 0; i < kSettingSpecs.size(); ++i) {
    for (std::size_t j = i + 1; j < kSettingSpecs.size(); ++j) {
      if (kSettingSpecs[i].name == kSettingSpecs[j].name) return false;
    }
  }
  return true;
}
static_assert(names_are_unique(), "every variable appears once in the table");

constexpr bool layers_are_grouped() {
  for (std::size_t i = 1; i < kSettingSpecs.size(); ++i) {
    if (kSettingSpecs[i].layer < kSettingSpecs[i - 1].layer) return false;
  }
  return true;
}
static_assert(layers_are_grouped(), "rows are grouped by layer, in Layer order");

// setting_names.hpp spells each name once; every constant there names exactly one row here, so
// a name can be neither added there without a row nor dropped here while code still uses it.
constexpr bool every_name_has_one_row() {
  if (setting::kAll.size() != kSettingSpecs.size()) return false;
  for (const std::string_view name : setting::kAll) {
    if (std::count_if(kSettingSpecs.begin(), kSettingSpecs.end(),
                      [name](const SettingSpec& spec) { return spec.name == name; }) != 1) {
      return false;
    }
  }
  return true;
}
static_assert(every_name_has_one_row(), "setting_names.hpp and the table name the same settings");

constexpr std::array kOrderingRules{
    detail::OrderingRule{setting::kMongodbMinPoolSize, setting::kMongodbMaxPoolSize, true,
                         "the minimum must not exceed the maximum"},
    detail::OrderingRule{setting::kHttpResilienceBackoffBase, setting::kHttpResilienceBackoffMax,
                         true, "the first backoff must not exceed the cap"},
    detail::OrderingRule{setting::kAiohttpLimitPerHost, setting::kAiohttpPoolLimit, false,
                         "the per-host limit can never be reached"},
};

using enum detail::TlsFileKind;
constexpr std::array kTlsFileRules{
    detail::TlsFileRule{setting::kRedisSslCaCerts, ca_location},
    detail::TlsFileRule{setting::kRedisSslCertfile, certificate},
    detail::TlsFileRule{setting::kRedisSslKeyfile, private_key},
    detail::TlsFileRule{setting::kHttpCaBundle, ca_location},
    detail::TlsFileRule{setting::kHttpClientCert, certificate},
    detail::TlsFileRule{setting::kHttpClientKey, private_key},
};
constexpr std::array kTlsKeyPairs{
    detail::TlsKeyPair{setting::kRedisSslCertfile, setting::kRedisSslKeyfile},
    detail::TlsKeyPair{setting::kHttpClientCert, setting::kHttpClientKey},
};
// Settings whose listed value turns certificate checks off.
constexpr std::array kVerificationSwitches{
    detail::VerificationSwitch{setting::kRedisSslCertReqs, "none",
                               "Redis accepts any server certificate: anyone on the path can "
                               "read and change the traffic"},
    detail::VerificationSwitch{setting::kRedisSslCheckHostname, "false",
                               "Redis accepts a certificate issued for any other name"},
    detail::VerificationSwitch{setting::kHttpTlsVerify, "false",
                               "both HTTP clients accept any certificate for any name: anyone on "
                               "the path can read and change the traffic"},
};

}  // namespace

std::span<const detail::TlsFileRule> detail::tls_file_rules() noexcept {
  return kTlsFileRules;
}
std::span<const detail::TlsKeyPair> detail::tls_key_pairs() noexcept {
  return kTlsKeyPairs;
}
std::span<const detail::VerificationSwitch> detail::verification_switches() noexcept {
  return kVerificationSwitches;
}

std::span<const detail::OrderingRule> detail::ordering_rules() noexcept {
  return kOrderingRules;
}

std::string detail::describe_disorder(const OrderingRule& rule, std::string_view lower_shown,
                                      std::string_view upper_shown) {
  return fmt::format("{}={} is larger than {}={}: {}", rule.lower, lower_shown, rule.upper,
                     upper_shown, rule.consequence);
}

void detail::require_ordered(
    const std::function<std::optional<double>(std::string_view name)>& value_of) {
  for (const OrderingRule& rule : kOrderingRules) {
    if (!rule.is_error) continue;
    const auto lower = value_of(rule.lower);
    const auto upper = value_of(rule.upper);
    if (!lower || !upper || *lower <= *upper) continue;
    throw ConfigError(
        describe_disorder(rule, fmt::format("{}", *lower), fmt::format("{}", *upper)));
  }
}

std::span<const SettingSpec> setting_specs() noexcept {
  return kSettingSpecs;
}

const SettingSpec* find_setting_spec(std::string_view name) noexcept {
  const auto match = std::find_if(kSettingSpecs.begin(), kSettingSpecs.end(),
                                  [name](const SettingSpec& spec) { return spec.name == name; });
  return match == kSettingSpecs.end() ? nullptr : &*match;
}

std::string_view to_string(Layer layer) noexcept {
  switch (layer) {
    case Layer::general:
      return "General";
    case Layer::mongo:
      return "MongoDB";
    case Layer::redis:
      return "Redis";
    case Layer::http_async:
      return "Async HTTP";
    case Layer::http_sync:
      return "Sync HTTP";
  }
  return "unknown";
}

std::string_view layer_name(Layer layer) noexcept {
  switch (layer) {
    case Layer::general:
      return "general";
    case Layer::mongo:
      return "mongo";
    case Layer::redis:
      return "redis";
    case Layer::http_async:
      return "http";
    case Layer::http_sync:
      return "http_sync";
  }
  return "unknown";
}

std::optional<Layer> layer_from_name(std::string_view name) noexcept {
  for (const Layer layer :
       {Layer::general, Layer::mongo, Layer::redis, Layer::http_async, Layer::http_sync}) {
    if (layer_name(layer) == name) return layer;
  }
  return std::nullopt;
}

std::string_view to_string(ValueKind kind) noexcept {
  switch (kind) {
    case ValueKind::count:
      return "count";
    case ValueKind::milliseconds:
      return "milliseconds";
    case ValueKind::seconds:
      return "seconds";
    case ValueKind::url:
      return "URL";
    case ValueKind::text:
      return "text";
    case ValueKind::token:
      return "name";
    case ValueKind::address:
      return "address";
    case ValueKind::choice:
      return "choice";
    case ValueKind::list:
      return "list";
    case ValueKind::bytes:
      return "bytes";
    case ValueKind::boolean:
      return "boolean";
    case ValueKind::path:
      return "path";
  }
  return "unknown";
}

std::string_view to_string(Profile profile) noexcept {
  return kProfileNames[static_cast<std::size_t>(profile)];
}

std::optional<Profile> parse_profile(std::string_view name) noexcept {
  const auto match = std::find(kProfileNames.begin(), kProfileNames.end(), name);
  if (match == kProfileNames.end()) return std::nullopt;
  return static_cast<Profile>(match - kProfileNames.begin());
}

}  // namespace poolkit
