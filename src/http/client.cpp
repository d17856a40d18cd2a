// The two facades over the engine, and their options from the typed settings.

#include "engine.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::http {
namespace {

using std::chrono::milliseconds;

// Retry-After is honoured up to this long (a longer one waits this long), and only while the
// wait ends before the request's deadline; otherwise the caller gets the last response (sync)
// or the error (async) at once.
constexpr milliseconds kRetryAfterCap{30000};

}  // namespace

Request Request::get(std::string url) {
  Request request;
  request.url = std::move(url);
  return request;
}

Request Request::post(std::string url, std::string body) {
  Request request;
  request.method = "POST";
  request.url = std::move(url);
  request.body = std::move(body);
  return request;
}

Options Options::from(const AsyncHttpSettings& settings) {
  Options options;
  options.max_connections = settings.pool_limit;
  options.max_connections_per_host = settings.limit_per_host;
  options.timeout = settings.timeout_total;
  options.dns_ttl = settings.dns_ttl;
  options.idle_max_age = settings.keepalive_timeout;
  const auto& resilience = settings.resilience;
  options.retry = RetryPolicy::resilience(
      resilience.max_attempts,
      Backoff{resilience.backoff_base, resilience.backoff_max, resilience.jitter, 0.0},
      kRetryAfterCap);
  const auto& breaker = settings.circuit_breaker;
  options.circuit_breaker =
      CircuitBreakerOptions{breaker.failure_threshold, breaker.recovery, breaker.half_open_success};
  options.max_response_bytes = settings.max_response_bytes;
  options.tls = settings.tls;
  options.response_limit_setting = setting::kHttpMaxResponseBytes;
  options.timeout_setting = setting::kAiohttpTimeoutTotal;
  options.limit_setting =
      std::string(setting::kAiohttpLimitPerHost) + " / " + std::string(setting::kAiohttpPoolLimit);
  return options;
}

Options Options::sync_defaults() {
  return from(Settings::defaults().http_sync);
}

Options Options::from(const SyncHttpSettings& settings) {
  Options options;
  options.max_connections = 0;  // requests has no overall limit, only per host
  options.max_connections_per_host = settings.pool_maxsize;
  // libcurl caches connections, not hosts: keep room for pool_maxsize to each of
  // pool_connections hosts.
  options.max_idle_connections = settings.pool_connections * settings.pool_maxsize;
  options.timeout = settings.timeout;
  options.retry = RetryPolicy::urllib3(settings.retries, settings.retry_backoff, kRetryAfterCap);
  options.circuit_breaker.reset();
  options.max_response_bytes = settings.max_response_bytes;
  options.tls = settings.tls;
  options.response_limit_setting = setting::kHttpMaxResponseBytes;
  options.timeout_setting = setting::kRequestsTimeout;
  options.limit_setting = setting::kRequestsPoolMaxsize;
  return options;
}

namespace {

// The promise is shared with the callback: the waiter may wake and return before the I/O
// thread has left set_value().
std::future<Response> deliver_to_future(detail::Engine& engine, Request request) {
  auto promise = std::make_shared<std::promise<Response>>();
  auto future = promise->get_future();
  engine.submit(std::move(request), [promise](Result result) {
    if (result.error) {
      promise->set_exception(std::move(result.error));
    } else {
      promise->set_value(std::move(result.response));
    }
  });
  return future;
}

}  // namespace

AsyncClient::AsyncClient(const AsyncHttpSettings& settings)
    : AsyncClient(Options::from(settings)) {}
AsyncClient::AsyncClient(Options options) : engine_(detail::Engine::start(std::move(options))) {}
AsyncClient::~AsyncClient() {
  engine_->close(milliseconds(0));
}

std::future<Response> AsyncClient::send(Request request) {
  return deliver_to_future(*engine_, std::move(request));
}

void AsyncClient::send(Request request, Callback done) {
  engine_->submit(std::move(request), std::move(done));
}

Metrics AsyncClient::metrics() const {
  return engine_->metrics();
}
void AsyncClient::close(milliseconds drain) {
  engine_->close(drain);
}

SyncClient::SyncClient(const SyncHttpSettings& settings) : SyncClient(Options::from(settings)) {}
SyncClient::SyncClient(Options options) : engine_(detail::Engine::start(std::move(options))) {}
SyncClient::~SyncClient() {
  engine_->close(milliseconds(0));
}

Response SyncClient::send(Request request) {
  return deliver_to_future(*engine_, std::move(request)).get();
}

Response SyncClient::get(std::string url) {
  return send(Request::get(std::move(url)));
}

Metrics SyncClient::metrics() const {
  return engine_->metrics();
}
void SyncClient::close(milliseconds drain) {
  engine_->close(drain);
}

}  // namespace poolkit::http
