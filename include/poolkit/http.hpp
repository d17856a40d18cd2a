#pragma once
// HTTP clients on libcurl: one engine per client = one libcurl multi handle driven by its own
// I/O thread. AsyncClient (the aiohttp role) hands back a std::future or calls a callback;
// SyncClient (the requests role) blocks the calling thread, so any number of threads share one
// bounded set of connections. Both are configured from their typed settings (settings.hpp) or
// from Options, and never read the environment:
//
//   poolkit::http::AsyncClient http;                        // the AIOHTTP_* defaults
//   poolkit::http::SyncClient scraper(settings.http_sync);  // or SyncClient() for REQUESTS_*
//
// Limits: at most `max_connections` requests in flight over all hosts and
// `max_connections_per_host` per scheme://host:port (HTTP/1.1: one connection each); requests
// beyond a limit wait in FIFO order. The timeout bounds the whole request: every attempt, the
// waits before retries and for a connection. A response body past `max_response_bytes`
// (HTTP_MAX_RESPONSE_BYTES) is refused. Connections idle longer than `idle_max_age` are closed
// instead of reused. See docs/http.md.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "poolkit/circuit_breaker.hpp"
#include "poolkit/error.hpp"
#include "poolkit/operation_stats.hpp"
#include "poolkit/retry_policy.hpp"
#include "poolkit/settings.hpp"
#include "poolkit/tls.hpp"

namespace poolkit::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method = "GET";  // any token; compared upper case
  std::string url{};           // http:// or https://; may hold a password, never printed as is
  Headers headers{};
  std::string body{};
  // The whole request: all attempts, the waits before retries and for a connection; nullopt:
  // the client's timeout.
  std::optional<std::chrono::milliseconds> timeout{};
  // Largest response body accepted, in bytes (0: no limit); nullopt: the client's limit.
  std::optional<std::size_t> max_response_bytes{};
  // Retries after the first attempt; nullopt: the client's retry policy.
  std::optional<int> max_retries{};
  // Async (resilience) style: also retry POST/PATCH on 5xx and 429.
  bool retry_non_idempotent = false;
  bool follow_redirects = false;
  // TLS for this request only, instead of the client's (CA, client certificate, verification):
  // the whole of it replaces the client's Options::tls for this transfer. nullopt: the client's.
  std::optional<TlsOptions> tls{};

  static Request get(std::string url);
  static Request post(std::string url, std::string body);
};

struct Timings {
  std::chrono::microseconds queued{0};  // waiting for a connection slot (last attempt)
  std::chrono::microseconds dns{0};     // from the attempt's start, as libcurl reports them
  std::chrono::microseconds connect{0};
  std::chrono::microseconds tls{0};
  std::chrono::microseconds first_byte{0};
  std::chrono::microseconds total{0};    // the last attempt, in libcurl
  std::chrono::microseconds elapsed{0};  // from send() to the response, all attempts
};

struct Response {
  int status = 0;
  Headers headers;  // in order received, names as the server wrote them
  std::string body;
  Timings timings;
  bool reused_connection = false;  // the last attempt ran on a pooled connection
  int attempts = 0;                // attempts made, retries included
  // Why a retry the policy asked for was not made (its wait would have passed the request's
  // deadline); empty when none was skipped.
  std::string retry_skipped;

  // The first header with this name (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
};

// A response whose status counts as a failure after the last retry (async client: 5xx, 429).
class StatusError : public ServerError {
 public:
  StatusError(const std::string& message, Response response)
      : ServerError(Backend::http, message, true), response_(std::move(response)) {}
  int status() const noexcept { return response_.status; }
  const Response& response() const noexcept { return response_; }

 private:
  Response response_;
};

// A response past a size limit: its body past max_response_bytes (HTTP_MAX_RESPONSE_BYTES or
// the request's own), or its header past the header limits. Never retried.
class ResponseTooLargeError : public ProtocolError {
 public:
  enum class Part { header, body };
  ResponseTooLargeError(const std::string& message, Part part, std::size_t limit,
                        std::size_t bytes_read)
      : ProtocolError(Backend::http, message),
        part_(part),
        limit_(limit),
        bytes_read_(bytes_read) {}
  Part part() const noexcept { return part_; }
  std::size_t limit() const noexcept { return limit_; }
  // Of that part, before the transfer was stopped (0: refused by its Content-Length).
  std::size_t bytes_read() const noexcept { return bytes_read_; }

 private:
  Part part_;
  std::size_t limit_;
  std::size_t bytes_read_;
};

struct HostMetrics {
  std::string host;            // scheme://host:port
  std::uint64_t requests = 0;  // completed (success or error)
  std::uint64_t retries = 0;
  std::uint64_t stale_connection_retries = 0;  // immediate retries after a dead pooled connection
  std::uint64_t connections_new = 0;
  std::uint64_t connections_reused = 0;
  std::int64_t waiting = 0;         // requests waiting for a connection slot now
  std::int64_t in_flight = 0;       // attempts running now
  std::int64_t peak_in_flight = 0;  // most attempts running at once since the client started
  CircuitState circuit = CircuitState::closed;
};

struct Metrics {
  // name: scheme://host:port; outcome: "2xx".."5xx", or an error code ("timeout", "connect",
  // "tls", "pool_timeout", "circuit_open", "pool_closed", "protocol", "server", ...); durations
  // from send() to completion.
  std::vector<OperationSnapshot> requests;
  std::vector<HostMetrics> hosts;  // sorted by host
  std::uint64_t connections_new = 0;
  std::uint64_t connections_reused = 0;
  std::uint64_t retries = 0;
  std::int64_t waiting = 0;
  std::int64_t in_flight = 0;
  // Most attempts running at once over all hosts since the client started: the figure to size
  // AIOHTTP_POOL_LIMIT / REQUESTS_POOL_MAXSIZE by (docs/tuning.md).
  std::int64_t peak_in_flight = 0;
};

// Everything a client can be told. The defaults are the async client's settings defaults
// (AIOHTTP_*, HTTP_RESILIENCE_*, CIRCUIT_BREAKER_*, HTTP_MAX_RESPONSE_BYTES; see
// docs/configuration.md); sync_defaults() gives the sync client's (REQUESTS_*).
struct Options {
  std::size_t max_connections = 100;          // in flight over all hosts; 0 = no limit
  std::size_t max_connections_per_host = 25;  // per scheme://host:port; 0 = no limit
  std::size_t max_idle_connections = 0;       // libcurl's connection cache; 0 = max_connections
  std::chrono::milliseconds timeout{15000};   // the whole request, retries and waits included
  std::chrono::milliseconds dns_ttl{300000};  // 0 = no DNS caching
  std::chrono::milliseconds idle_max_age{15000};
  std::chrono::milliseconds tcp_keepalive_idle{30000};  // 0 = no TCP keepalive probes
  bool http2 = false;                                   // HTTP/2 over TLS by ALPN; else 1.1
  bool reuse_connections = true;  // false: one connection per request (benchmarks)
  RetryPolicy retry = RetryPolicy::resilience(
      3,
      Backoff{std::chrono::milliseconds(250), std::chrono::milliseconds(8000),
              std::chrono::milliseconds(500), 0.0},
      std::chrono::milliseconds(30000));
  // The CIRCUIT_BREAKER_* defaults; nullopt: no breaker.
  std::optional<CircuitBreakerOptions> circuit_breaker = CircuitBreakerOptions{};
  // Largest response body accepted; 0: no limit. A longer one fails with ResponseTooLargeError
  // as soon as it passes the limit (or at once, from its Content-Length).
  std::size_t max_response_bytes = 64 * 1024 * 1024;
  std::string user_agent = "poolkit-http/0.1";
  // For https:// URLs (HTTP_CA_BUNDLE and its fallbacks, HTTP_CLIENT_CERT, HTTP_CLIENT_KEY,
  // HTTP_TLS_VERIFY): ca_file is a PEM bundle or a hashed CA directory; nullopt, the system
  // store. TLS 1.2 at least. The trust store is built once per client and TLS sessions are
  // resumed across its connections (docs/http.md, "TLS"). A file that can't be used is a
  // ConfigError from the constructor.
  TlsOptions tls{};
  // Named in error messages as what to change: "AIOHTTP_TIMEOUT_TOTAL" and so on.
  std::string timeout_setting = "the client's timeout";
  std::string limit_setting = "the client's connection limits";
  std::string response_limit_setting = "the client's max_response_bytes";

  static Options from(const AsyncHttpSettings& settings);
  static Options from(const SyncHttpSettings& settings);
  // What SyncClient uses when given nothing: from() the sync settings' defaults.
  static Options sync_defaults();
};
using ClientOptions = Options;  // the earlier name

// The result handed to a callback: a response, or the error that ended the request.
struct Result {
  Response response;
  std::exception_ptr error;
  bool ok() const noexcept { return !error; }
};
using Callback = std::function<void(Result)>;

namespace detail {
class Engine;
}

class AsyncClient {
 public:
  explicit AsyncClient(const AsyncHttpSettings& settings);
  explicit AsyncClient(Options options = {});
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  std::future<Response> send(Request request);
  // `done` runs exactly once, on the client's I/O thread (keep it short, never block in it, and
  // never wait there for another request of this client).
  void send(Request request, Callback done);

  Metrics metrics() const;
  // Stops taking requests; requests still running may finish during `drain`, every other one
  // (queued, waiting to retry, still running after the drain) fails with PoolClosedError.
  // Idempotent; also done by the destructor with no drain. The destructor may run anywhere,
  // even in one of this client's callbacks (dropping the last shared_ptr to it there).
  void close(std::chrono::milliseconds drain = std::chrono::milliseconds(0));

 private:
  std::shared_ptr<detail::Engine> engine_;
};

class SyncClient {
 public:
  explicit SyncClient(const SyncHttpSettings& settings);
  explicit SyncClient(Options options = Options::sync_defaults());
  ~SyncClient();
  SyncClient(const SyncClient&) = delete;
  SyncClient& operator=(const SyncClient&) = delete;

  // Blocks until the response (after retries); throws the error that ended the request.
  // Thread-safe: call it from any number of threads.
  Response send(Request request);
  Response get(std::string url);

  Metrics metrics() const;
  void close(std::chrono::milliseconds drain = std::chrono::milliseconds(0));

 private:
  std::shared_ptr<detail::Engine> engine_;
};

}  // namespace poolkit::http
