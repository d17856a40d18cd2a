#pragma once
// The name of every poolkit setting, spelled once. The settings table (src/core/settings_table.cpp)
// builds its rows from these constants and checks at compile time that each one names exactly
// one row; everything else (clients, the registry, the CLI, messages) names a setting through
// them, e.g. fmt::format("raise {}", setting::kRedisMaxConnections). A test
// (tests/unit/setting_names_test.cpp) fails on a table name typed as a string literal anywhere
// else in src/, include/, tools/ or examples/.

#include <array>
#include <string_view>

namespace poolkit::setting {

// General
inline constexpr std::string_view kPoolkitProfile = "POOLKIT_PROFILE";
inline constexpr std::string_view kPoolkitMetricsAddr = "POOLKIT_METRICS_ADDR";

// MongoDB
inline constexpr std::string_view kMongodbUrl = "MONGODB_URL";
inline constexpr std::string_view kMongodbMaxPoolSize = "MONGODB_MAX_POOL_SIZE";
inline constexpr std::string_view kMongodbMinPoolSize = "MONGODB_MIN_POOL_SIZE";
inline constexpr std::string_view kMongodbWaitQueueTimeoutMs = "MONGODB_WAIT_QUEUE_TIMEOUT_MS";
inline constexpr std::string_view kMongodbMaxIdleTimeMs = "MONGODB_MAX_IDLE_TIME_MS";
inline constexpr std::string_view kMongodbServerSelectionTimeoutMs =
    "MONGODB_SERVER_SELECTION_TIMEOUT_MS";
inline constexpr std::string_view kMongodbSocketTimeoutMs = "MONGODB_SOCKET_TIMEOUT_MS";
inline constexpr std::string_view kMongodbConnectTimeoutMs = "MONGODB_CONNECT_TIMEOUT_MS";
inline constexpr std::string_view kMongodbHeartbeatFrequencyMs = "MONGODB_HEARTBEAT_FREQUENCY_MS";
inline constexpr std::string_view kMongodbAppname = "MONGODB_APPNAME";
inline constexpr std::string_view kMongodbCompressors = "MONGODB_COMPRESSORS";

// Redis
inline constexpr std::string_view kRedisUrl = "REDIS_URL";
inline constexpr std::string_view kRedisMaxConnections = "REDIS_MAX_CONNECTIONS";
inline constexpr std::string_view kRedisConnectTimeout = "REDIS_CONNECT_TIMEOUT";
inline constexpr std::string_view kRedisSocketTimeout = "REDIS_SOCKET_TIMEOUT";
inline constexpr std::string_view kRedisHealthCheckInterval = "REDIS_HEALTH_CHECK_INTERVAL";
inline constexpr std::string_view kRedisWaitTimeout = "REDIS_WAIT_TIMEOUT";
inline constexpr std::string_view kRedisRetryAttempts = "REDIS_RETRY_ATTEMPTS";
inline constexpr std::string_view kRedisClientName = "REDIS_CLIENT_NAME";
inline constexpr std::string_view kRedisMaxReplyBytes = "REDIS_MAX_REPLY_BYTES";
inline constexpr std::string_view kRedisSslCaCerts = "REDIS_SSL_CA_CERTS";
inline constexpr std::string_view kRedisSslCertfile = "REDIS_SSL_CERTFILE";
inline constexpr std::string_view kRedisSslKeyfile = "REDIS_SSL_KEYFILE";
inline constexpr std::string_view kRedisSslCertReqs = "REDIS_SSL_CERT_REQS";
inline constexpr std::string_view kRedisSslCheckHostname = "REDIS_SSL_CHECK_HOSTNAME";
inline constexpr std::string_view kRedisMode = "REDIS_MODE";
inline constexpr std::string_view kRedisReadFrom = "REDIS_READ_FROM";
inline constexpr std::string_view kRedisSentinelMaster = "REDIS_SENTINEL_MASTER";
inline constexpr std::string_view kRedisSentinelPassword = "REDIS_SENTINEL_PASSWORD";
inline constexpr std::string_view kRedisMultiplexConnections = "REDIS_MULTIPLEX_CONNECTIONS";
inline constexpr std::string_view kRedisMaxPending = "REDIS_MAX_PENDING";

// Async HTTP (the aiohttp role: the async client, poolkit::http::AsyncClient)
inline constexpr std::string_view kAiohttpPoolLimit = "AIOHTTP_POOL_LIMIT";
inline constexpr std::string_view kAiohttpLimitPerHost = "AIOHTTP_LIMIT_PER_HOST";
inline constexpr std::string_view kAiohttpTimeoutTotal = "AIOHTTP_TIMEOUT_TOTAL";
inline constexpr std::string_view kAiohttpDnsTtl = "AIOHTTP_DNS_TTL";
inline constexpr std::string_view kAiohttpKeepaliveTimeout = "AIOHTTP_KEEPALIVE_TIMEOUT";
inline constexpr std::string_view kHttpResilienceMaxAttempts = "HTTP_RESILIENCE_MAX_ATTEMPTS";
inline constexpr std::string_view kHttpResilienceBackoffBase = "HTTP_RESILIENCE_BACKOFF_BASE";
inline constexpr std::string_view kHttpResilienceBackoffMax = "HTTP_RESILIENCE_BACKOFF_MAX";
inline constexpr std::string_view kHttpResilienceJitter = "HTTP_RESILIENCE_JITTER";
inline constexpr std::string_view kCircuitBreakerFailureThreshold =
    "CIRCUIT_BREAKER_FAILURE_THRESHOLD";
inline constexpr std::string_view kCircuitBreakerRecoverySeconds =
    "CIRCUIT_BREAKER_RECOVERY_SECONDS";
inline constexpr std::string_view kCircuitBreakerHalfOpenSuccess =
    "CIRCUIT_BREAKER_HALF_OPEN_SUCCESS";
inline constexpr std::string_view kHttpMaxResponseBytes = "HTTP_MAX_RESPONSE_BYTES";
inline constexpr std::string_view kHttpCaBundle = "HTTP_CA_BUNDLE";
inline constexpr std::string_view kHttpClientCert = "HTTP_CLIENT_CERT";
inline constexpr std::string_view kHttpClientKey = "HTTP_CLIENT_KEY";
inline constexpr std::string_view kHttpTlsVerify = "HTTP_TLS_VERIFY";

// Sync HTTP (the requests role: the blocking client, poolkit::http::SyncClient)
inline constexpr std::string_view kRequestsPoolConnections = "REQUESTS_POOL_CONNECTIONS";
inline constexpr std::string_view kRequestsPoolMaxsize = "REQUESTS_POOL_MAXSIZE";
inline constexpr std::string_view kRequestsTimeout = "REQUESTS_TIMEOUT";
inline constexpr std::string_view kRequestsRetries = "REQUESTS_RETRIES";
inline constexpr std::string_view kRequestsRetryBackoff = "REQUESTS_RETRY_BACKOFF";

// Every name above, in table order.
inline constexpr std::array kAll{
    kPoolkitProfile,
    kPoolkitMetricsAddr,
    kMongodbUrl,
    kMongodbMaxPoolSize,
    kMongodbMinPoolSize,
    kMongodbWaitQueueTimeoutMs,
    kMongodbMaxIdleTimeMs,
    kMongodbServerSelectionTimeoutMs,
    kMongodbSocketTimeoutMs,
    kMongodbConnectTimeoutMs,
    kMongodbHeartbeatFrequencyMs,
    kMongodbAppname,
    kMongodbCompressors,
    kRedisUrl,
    kRedisMaxConnections,
    kRedisConnectTimeout,
    kRedisSocketTimeout,
    kRedisHealthCheckInterval,
    kRedisWaitTimeout,
    kRedisRetryAttempts,
    kRedisClientName,
    kRedisMaxReplyBytes,
    kRedisSslCaCerts,
    kRedisSslCertfile,
    kRedisSslKeyfile,
    kRedisSslCertReqs,
    kRedisSslCheckHostname,
    kRedisMode,
    kRedisReadFrom,
    kRedisSentinelMaster,
    kRedisSentinelPassword,
    kRedisMultiplexConnections,
    kRedisMaxPending,
    kAiohttpPoolLimit,
    kAiohttpLimitPerHost,
    kAiohttpTimeoutTotal,
    kAiohttpDnsTtl,
    kAiohttpKeepaliveTimeout,
    kHttpResilienceMaxAttempts,
    kHttpResilienceBackoffBase,
    kHttpResilienceBackoffMax,
    kHttpResilienceJitter,
    kCircuitBreakerFailureThreshold,
    kCircuitBreakerRecoverySeconds,
    kCircuitBreakerHalfOpenSuccess,
    kHttpMaxResponseBytes,
    kHttpCaBundle,
    kHttpClientCert,
    kHttpClientKey,
    kHttpTlsVerify,
    kRequestsPoolConnections,
    kRequestsPoolMaxsize,
    kRequestsTimeout,
    kRequestsRetries,
    kRequestsRetryBackoff,
};

}  // namespace poolkit::setting
