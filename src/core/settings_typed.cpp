// From parsed values to the typed per-layer structs. This is the one place that ties a variable
// name to a field; everything about the variable itself lives in the table.

#include <stdexcept>

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
  mongo.url = read.url("MONGODB_URL");
  mongo.max_pool_size = read.size("MONGODB_MAX_POOL_SIZE");
  mongo.min_pool_size = read.size("MONGODB_MIN_POOL_SIZE");
  mongo.wait_queue_timeout = read.duration("MONGODB_WAIT_QUEUE_TIMEOUT_MS");
  mongo.max_idle_time = read.duration("MONGODB_MAX_IDLE_TIME_MS");
  mongo.server_selection_timeout = read.duration("MONGODB_SERVER_SELECTION_TIMEOUT_MS");
  mongo.socket_timeout = read.duration("MONGODB_SOCKET_TIMEOUT_MS");
  mongo.connect_timeout = read.duration("MONGODB_CONNECT_TIMEOUT_MS");
  mongo.heartbeat_frequency = read.duration("MONGODB_HEARTBEAT_FREQUENCY_MS");
  mongo.appname = read.text("MONGODB_APPNAME");
  mongo.compressors = read.words("MONGODB_COMPRESSORS");
  return mongo;
}

RedisSettings redis_settings(const ValueReader& read) {
  RedisSettings redis;
  redis.url = read.url("REDIS_URL");
  redis.max_connections = read.size("REDIS_MAX_CONNECTIONS");
  redis.connect_timeout = read.duration("REDIS_CONNECT_TIMEOUT");
  redis.socket_timeout = read.duration("REDIS_SOCKET_TIMEOUT");
  redis.health_check_interval = read.duration("REDIS_HEALTH_CHECK_INTERVAL");
  redis.wait_timeout = read.duration("REDIS_WAIT_TIMEOUT");
  redis.retry_attempts = read.number("REDIS_RETRY_ATTEMPTS");
  redis.client_name = read.text("REDIS_CLIENT_NAME");
  redis.max_reply_bytes = read.size("REDIS_MAX_REPLY_BYTES");
  return redis;
}

AsyncHttpSettings async_http_settings(const ValueReader& read) {
  AsyncHttpSettings http;
  http.pool_limit = read.size("AIOHTTP_POOL_LIMIT");
  http.limit_per_host = read.size("AIOHTTP_LIMIT_PER_HOST");
  http.timeout_total = read.duration("AIOHTTP_TIMEOUT_TOTAL");
  http.dns_ttl = read.duration("AIOHTTP_DNS_TTL");
  http.keepalive_timeout = read.duration("AIOHTTP_KEEPALIVE_TIMEOUT");
  http.resilience.max_attempts = read.number("HTTP_RESILIENCE_MAX_ATTEMPTS");
  http.resilience.backoff_base = read.duration("HTTP_RESILIENCE_BACKOFF_BASE");
  http.resilience.backoff_max = read.duration("HTTP_RESILIENCE_BACKOFF_MAX");
  http.resilience.jitter = read.duration("HTTP_RESILIENCE_JITTER");
  http.circuit_breaker.failure_threshold = read.number("CIRCUIT_BREAKER_FAILURE_THRESHOLD");
  http.circuit_breaker.recovery = read.duration("CIRCUIT_BREAKER_RECOVERY_SECONDS");
  http.circuit_breaker.half_open_success = read.number("CIRCUIT_BREAKER_HALF_OPEN_SUCCESS");
  http.max_response_bytes = read.size("HTTP_MAX_RESPONSE_BYTES");
  return http;
}

SyncHttpSettings sync_http_settings(const ValueReader& read) {
  SyncHttpSettings http;
  http.pool_connections = read.size("REQUESTS_POOL_CONNECTIONS");
  http.pool_maxsize = read.size("REQUESTS_POOL_MAXSIZE");
  http.timeout = read.duration("REQUESTS_TIMEOUT");
  http.retries = read.number("REQUESTS_RETRIES");
  http.retry_backoff = read.duration("REQUESTS_RETRY_BACKOFF");
  http.max_response_bytes = read.size("HTTP_MAX_RESPONSE_BYTES");
  return http;
}

}  // namespace

Settings build_settings(const ValueMap& values, std::optional<Profile> profile) {
  const ValueReader read(values);
  Settings settings;
  settings.profile = profile;
  settings.metrics_addr = read.text("POOLKIT_METRICS_ADDR");
  settings.mongo = mongo_settings(read);
  settings.redis = redis_settings(read);
  settings.http_async = async_http_settings(read);
  settings.http_sync = sync_http_settings(read);
  return settings;
}

}  // namespace poolkit::detail
