// From parsed values to the typed per-layer structs. This is the one place that ties a variable
// name to a field; everything about the variable itself lives in the table.

#include <stdexcept>

#include "poolkit/setting_names.hpp"
#include "settings_detail.hpp"

namespace poolkit::detail {
namespace {

class ValueReader {
 public:
  explicit ValueReader(const ValueMap& values) : values_(values) {}

  std::size_t size(std::string_view name) const {
    return static_cast<std::size_t>(required<std::int64_t>(name));
  }
  int number(std::string_view name) const { return static_cast<int>(required<std::int64_t>(name)); }
  std::chrono::milliseconds duration(std::string_view name) const {
    return required<std::chrono::milliseconds>(name);
  }
  std::optional<std::string> text(std::string_view name) const { return if_set<std::string>(name); }
  bool flag(std::string_view name) const { return required<std::int64_t>(name) != 0; }
  std::optional<Url> url(std::string_view name) const { return if_set<Url>(name); }
  std::vector<std::string> words(std::string_view name) const {
    return if_set<std::vector<std::string>>(name).value_or(std::vector<std::string>{});
  }

 private:
  template <typename T>
  const T& required(std::string_view name) const {
    const auto value = values_.find(name);
    if (value == values_.end()) {
      throw std::logic_error("setting " + std::string(name) + " has no value and no default");
    }
    return std::get<T>(value->second);
  }

  template <typename T>
  std::optional<T> if_set(std::string_view name) const {
    const auto value = values_.find(name);
    if (value == values_.end()) return std::nullopt;
    return std::get<T>(value->second);
  }

  const ValueMap& values_;
};

MongoSettings mongo_settings(const ValueReader& read) {
  MongoSettings mongo;
  mongo.url = read.url(setting::kMongodbUrl);
  mongo.max_pool_size = read.size(setting::kMongodbMaxPoolSize);
  mongo.min_pool_size = read.size(setting::kMongodbMinPoolSize);
  mongo.wait_queue_timeout = read.duration(setting::kMongodbWaitQueueTimeoutMs);
  mongo.max_idle_time = read.duration(setting::kMongodbMaxIdleTimeMs);
  mongo.server_selection_timeout = read.duration(setting::kMongodbServerSelectionTimeoutMs);
  mongo.socket_timeout = read.duration(setting::kMongodbSocketTimeoutMs);
  mongo.connect_timeout = read.duration(setting::kMongodbConnectTimeoutMs);
  mongo.heartbeat_frequency = read.duration(setting::kMongodbHeartbeatFrequencyMs);
  mongo.appname = read.text(setting::kMongodbAppname);
  mongo.compressors = read.words(setting::kMongodbCompressors);
  return mongo;
}

// The table's choices are the only words that reach here.
RedisMode redis_mode_of(std::string_view word) {
  if (word == "cluster") return RedisMode::cluster;
  if (word == "sentinel") return RedisMode::sentinel;
  return RedisMode::standalone;
}

RedisReadFrom read_from_of(std::string_view word) {
  if (word == "replica") return RedisReadFrom::replica;
  if (word == "replica_preferred") return RedisReadFrom::replica_preferred;
  return RedisReadFrom::master;
}

RedisSettings redis_settings(const ValueReader& read) {
  RedisSettings redis;
  redis.url = read.url(setting::kRedisUrl);
  redis.max_connections = read.size(setting::kRedisMaxConnections);
  redis.connect_timeout = read.duration(setting::kRedisConnectTimeout);
  redis.socket_timeout = read.duration(setting::kRedisSocketTimeout);
  redis.health_check_interval = read.duration(setting::kRedisHealthCheckInterval);
  redis.wait_timeout = read.duration(setting::kRedisWaitTimeout);
  redis.retry_attempts = read.number(setting::kRedisRetryAttempts);
  redis.client_name = read.text(setting::kRedisClientName);
  redis.max_reply_bytes = read.size(setting::kRedisMaxReplyBytes);
  redis.tls.ca_file = read.text(setting::kRedisSslCaCerts);
  if (redis.tls.ca_file) redis.tls.ca_source = setting::kRedisSslCaCerts;
  redis.tls.cert_file = read.text(setting::kRedisSslCertfile);
  redis.tls.key_file = read.text(setting::kRedisSslKeyfile);
  redis.tls.verify_peer = read.text(setting::kRedisSslCertReqs) != "none";
  redis.tls.verify_hostname = read.flag(setting::kRedisSslCheckHostname);
  redis.mode = redis_mode_of(read.text(setting::kRedisMode).value_or("standalone"));
  redis.read_from = read_from_of(read.text(setting::kRedisReadFrom).value_or("master"));
  redis.sentinel_master = read.text(setting::kRedisSentinelMaster);
  redis.sentinel_password = read.text(setting::kRedisSentinelPassword);
  redis.multiplex_connections = read.size(setting::kRedisMultiplexConnections);
  redis.max_pending = read.size(setting::kRedisMaxPending);
  return redis;
}

// Both HTTP clients read the same TLS settings. The loader replaces ca_source when the CA came
// from a fallback variable (REQUESTS_CA_BUNDLE, ...).
TlsOptions http_tls_settings(const ValueReader& read) {
  TlsOptions tls;
  tls.ca_file = read.text(setting::kHttpCaBundle);
  if (tls.ca_file) tls.ca_source = setting::kHttpCaBundle;
  tls.cert_file = read.text(setting::kHttpClientCert);
  tls.key_file = read.text(setting::kHttpClientKey);
  tls.verify_peer = read.flag(setting::kHttpTlsVerify);
  tls.verify_hostname = tls.verify_peer;
  return tls;
}

AsyncHttpSettings async_http_settings(const ValueReader& read) {
  AsyncHttpSettings http;
  http.pool_limit = read.size(setting::kAiohttpPoolLimit);
  http.limit_per_host = read.size(setting::kAiohttpLimitPerHost);
  http.timeout_total = read.duration(setting::kAiohttpTimeoutTotal);
  http.dns_ttl = read.duration(setting::kAiohttpDnsTtl);
  http.keepalive_timeout = read.duration(setting::kAiohttpKeepaliveTimeout);
  http.resilience.max_attempts = read.number(setting::kHttpResilienceMaxAttempts);
  http.resilience.backoff_base = read.duration(setting::kHttpResilienceBackoffBase);
  http.resilience.backoff_max = read.duration(setting::kHttpResilienceBackoffMax);
  http.resilience.jitter = read.duration(setting::kHttpResilienceJitter);
  http.circuit_breaker.failure_threshold = read.number(setting::kCircuitBreakerFailureThreshold);
  http.circuit_breaker.recovery = read.duration(setting::kCircuitBreakerRecoverySeconds);
  http.circuit_breaker.half_open_success = read.number(setting::kCircuitBreakerHalfOpenSuccess);
  http.max_response_bytes = read.size(setting::kHttpMaxResponseBytes);
  http.tls = http_tls_settings(read);
  return http;
}

SyncHttpSettings sync_http_settings(const ValueReader& read) {
  SyncHttpSettings http;
  http.pool_connections = read.size(setting::kRequestsPoolConnections);
  http.pool_maxsize = read.size(setting::kRequestsPoolMaxsize);
  http.timeout = read.duration(setting::kRequestsTimeout);
  http.retries = read.number(setting::kRequestsRetries);
  http.retry_backoff = read.duration(setting::kRequestsRetryBackoff);
  http.max_response_bytes = read.size(setting::kHttpMaxResponseBytes);
  http.tls = http_tls_settings(read);
  return http;
}

}  // namespace

Settings build_settings(const ValueMap& values, std::optional<Profile> profile) {
  const ValueReader read(values);
  Settings settings;
  settings.profile = profile;
  settings.metrics_addr = read.text(setting::kPoolkitMetricsAddr);
  settings.mongo = mongo_settings(read);
  settings.redis = redis_settings(read);
  settings.http_async = async_http_settings(read);
  settings.http_sync = sync_http_settings(read);
  return settings;
}

}  // namespace poolkit::detail
