#include "engine.hpp"

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include "exchange.hpp"
#include "poolkit/setting_names.hpp"
#include "poolkit/url.hpp"

namespace poolkit::http::detail {
namespace {

using std::chrono::milliseconds;

// libcurl's global state: set up by the first engine, torn down once at exit.
class CurlLibrary {
 public:
  CurlLibrary() {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw std::runtime_error("libcurl could not be initialised (curl_global_init failed)");
    }
  }
  CurlLibrary(const CurlLibrary&) = delete;
  CurlLibrary& operator=(const CurlLibrary&) = delete;
  ~CurlLibrary() { curl_global_cleanup(); }
};

// URL prefixes whose host is known, kept so most requests skip parsing their URL.
constexpr std::size_t kHostPrefixCacheSize = 1024;

milliseconds until(Clock::time_point from, Clock::time_point to) {
  return std::chrono::ceil<milliseconds>(to - from);
}

// A high-water mark with a single writer (the I/O thread): no compare-and-swap needed.
void raise_to(std::atomic<std::int64_t>& peak, std::int64_t value) noexcept {
  if (value > peak.load(std::memory_order_relaxed)) peak.store(value, std::memory_order_relaxed);
}

std::exception_ptr closed_error(const std::string& why) {
  return std::make_exception_ptr(PoolClosedError(Backend::http, why));
}

}  // namespace

void ensure_curl_initialized() {
  static const CurlLibrary library;
}

Engine::Engine(Options options) : options_(std::move(options)) {
  ensure_curl_initialized();
  tls_ = std::make_unique<TlsSetup>(options_.tls);
  multi_ = curl_multi_init();
  if (multi_ == nullptr) throw std::runtime_error("libcurl could not create a multi handle");
  if (options_.circuit_breaker) {
    breakers_ = std::make_unique<CircuitBreakers>(*options_.circuit_breaker);
  }
  // Backstops only: admission below keeps the counts (see engine.hpp).
  curl_multi_setopt(multi_, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(options_.max_connections));
  curl_multi_setopt(multi_, CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(options_.max_connections_per_host));
  const std::size_t cache =
      options_.max_idle_connections > 0 ? options_.max_idle_connections : options_.max_connections;
  if (cache > 0) curl_multi_setopt(multi_, CURLMOPT_MAXCONNECTS, static_cast<long>(cache));
  if (!options_.http2) curl_multi_setopt(multi_, CURLMOPT_PIPELINING, CURLPIPE_NOTHING);
}

std::shared_ptr<Engine> Engine::start(Options options) {
  auto engine = std::make_shared<Engine>(std::move(options));
  engine->io_thread_ = std::thread([self = engine] { self->run(); });
  return engine;
}

Engine::~Engine() {
  close(milliseconds(0));
  // Still joinable only when the last reference was the I/O thread's own, dropped after its
  // loop ended: the thread is finishing and cannot join itself.
  if (io_thread_.joinable()) io_thread_.detach();
  for (const auto& [easy, set_for_plain_get] : spare_easy_) curl_easy_cleanup(easy);
  curl_multi_cleanup(multi_);
}

void Engine::wake() noexcept {
  curl_multi_wakeup(multi_);
}

void Engine::submit(Request request, Callback done) {
  auto exchange = std::make_unique<Exchange>();
  try {
    normalise(request);
    exchange->host = &host_for_url(request.url);
    if (request.tls) tls_->check_request_tls(*request.tls);
  } catch (...) {
    done(Result{{}, std::current_exception()});
    return;
  }
  exchange->policy =
      request.max_retries ? options_.retry.with_max_retries(*request.max_retries) : options_.retry;
  exchange->timeout = request.timeout.value_or(options_.timeout);
  exchange->max_response_bytes = request.max_response_bytes.value_or(options_.max_response_bytes);
  exchange->request = std::move(request);
  exchange->done = std::move(done);
  exchange->submitted = Clock::now();
  {
    std::lock_guard lock(inbox_mutex_);
    if (!closing_) {
      inbox_.push_back(std::move(exchange));
      exchange.reset();
    }
  }
  if (!exchange) {
    // A busy I/O thread looks at the inbox before it sleeps; only a sleeping one needs
    // curl_multi_wakeup (both sides use sequentially consistent order, so one of them sees the
    // other).
    if (io_sleeping_.load()) wake();
    return;
  }
  exchange->done(
      Result{{}, closed_error(exchange->what() + ": the client is closed; create a new one")});
}

void Engine::close(milliseconds drain) {
  std::lock_guard close_lock(close_mutex_);
  {
    std::lock_guard lock(inbox_mutex_);
    if (!closing_) {
      closing_ = true;
      drain_deadline_ = Clock::now() + drain;
      wake();
    }
  }
  if (io_thread_.joinable()) {
    // From a callback on the I/O thread the loop ends by itself once it sees closing_; the
    // destructor (which must run on another thread) joins it.
    if (io_thread_.get_id() != std::this_thread::get_id()) io_thread_.join();
  }
}

HostState& Engine::host_for_url(const std::string& url) {
  const std::string_view prefix = authority_prefix(url);
  {
    std::lock_guard lock(hosts_mutex_);
    if (const auto known = host_by_prefix_.find(prefix); known != host_by_prefix_.end()) {
      return *known->second;
    }
  }
  const std::string key = host_key_of(url);  // parses the URL; throws ConfigError
  std::lock_guard lock(hosts_mutex_);
  auto found = hosts_.find(key);
  if (found == hosts_.end()) {
    auto state = std::make_unique<HostState>();
    state->key = key;
    if (breakers_) state->breaker = &breakers_->for_key(key);
    found = hosts_.emplace(key, std::move(state)).first;
  }
  // Bounded: a caller sending to ever new hosts must not grow it without end.
  if (host_by_prefix_.size() >= kHostPrefixCacheSize) host_by_prefix_.clear();
  if (!prefix.empty()) host_by_prefix_.emplace(std::string(prefix), found->second.get());
  return *found->second;
}

void Engine::take_easy(Exchange& exchange) {
  if (!spare_easy_.empty()) {
    std::tie(exchange.easy, exchange.easy_set_for_plain_get) = spare_easy_.back();
    spare_easy_.pop_back();
    return;
  }
  exchange.easy = curl_easy_init();
  if (exchange.easy == nullptr) throw std::bad_alloc();
  exchange.easy_set_for_plain_get = false;
}

void Engine::recycle_easy(Exchange& exchange) {
  CURL* easy = std::exchange(exchange.easy, nullptr);
  if (easy == nullptr) return;
  // Keep as many as may run at once; more would only hold memory.
  if (spare_easy_.size() < std::max<std::size_t>(64, options_.max_connections)) {
    spare_easy_.emplace_back(easy, exchange.easy_set_for_plain_get);
  } else {
    curl_easy_cleanup(easy);
  }
}

void Engine::run() {
  while (loop_once()) {
  }
  fail_all_queued("HTTP client closed before the request could run");
  fail_all_running("HTTP client closed while the request was running");
}

bool Engine::loop_once() {
  take_inbox();
  auto now = Clock::now();
  if (stopping_) {
    fail_all_queued("HTTP client closed before the request could run");
    if (running_.empty() || now >= drain_deadline_) return false;
  }
  start_due_retries(now);
  expire_waiting(now);
  admit_waiting();
  // One curl_multi_perform per turn, after the poll: each call visits every transfer, so a
  // second one before the poll would double that work. Transfers just added have a zero
  // timeout in libcurl, so the poll returns at once for them.
  wait_for_events(poll_timeout_ms(Clock::now()));
  return true;
}

// curl_multi_poll waits on every transfer's sockets and the wake-up pipe; curl_multi_perform
// then advances every transfer. Measured against curl_multi_socket_action on an epoll set of
// our own, it made no difference at 32 connections (docs/benchmarks.md), so the simpler one
// stays.
void Engine::wait_for_events(int timeout_ms) {
  io_sleeping_.store(true);
  {
    std::lock_guard lock(inbox_mutex_);
    if (!inbox_.empty() || closing_) timeout_ms = 0;
  }
  curl_multi_poll(multi_, nullptr, 0, timeout_ms, nullptr);
  io_sleeping_.store(false);
  int running = 0;
  curl_multi_perform(multi_, &running);
  collect_finished();
}

void Engine::take_inbox() {
  std::vector<std::unique_ptr<Exchange>> arrived;
  {
    std::lock_guard lock(inbox_mutex_);
    arrived.swap(inbox_);
    stopping_ = closing_;
  }
  for (auto& exchange : arrived) {
    exchange->attempt_queued = exchange->submitted;
    exchange->deadline = exchange->submitted + exchange->timeout;
    exchange->host->waiting.fetch_add(1, std::memory_order_relaxed);
    waiting_.push_back(std::move(exchange));
  }
}

void Engine::start_due_retries(Clock::time_point now) {
  while (!retry_timers_.empty() && retry_timers_.begin()->first <= now) {
    auto exchange = std::move(retry_timers_.begin()->second);
    retry_timers_.erase(retry_timers_.begin());
    exchange->attempt_queued = now;  // the deadline stays the request's: submitted + timeout
    exchange->host->waiting.fetch_add(1, std::memory_order_relaxed);
    waiting_.push_back(std::move(exchange));
  }
}

void Engine::expire_waiting(Clock::time_point now) {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if ((*it)->deadline > now) {
      ++it;
      continue;
    }
    auto exchange = std::move(*it);
    it = waiting_.erase(it);
    exchange->host->waiting.fetch_sub(1, std::memory_order_relaxed);
    const auto per_host = exchange->host->in_flight.load(std::memory_order_relaxed);
    const std::string message = exchange->what() + ": waited " +
                                std::to_string(until(exchange->attempt_queued, now).count()) +
                                " ms for a free connection to " + exchange->host->key +
                                " (in use: " + std::to_string(per_host) + " to this host, " +
                                std::to_string(in_flight_) + " in all; limits " +
                                std::to_string(options_.max_connections_per_host) + " per host, " +
                                std::to_string(options_.max_connections) +
                                " in all; 0 = none): raise " + options_.limit_setting + " or " +
                                options_.timeout_setting + ", or send fewer requests at once";
    complete(std::move(exchange),
             std::make_exception_ptr(PoolTimeoutError(Backend::http, message)));
  }
}

bool Engine::has_slot(const HostState& host) const {
  if (options_.max_connections > 0 && in_flight_ >= options_.max_connections) return false;
  if (options_.max_connections_per_host == 0) return true;
  return static_cast<std::size_t>(host.in_flight.load(std::memory_order_relaxed)) <
         options_.max_connections_per_host;
}

void Engine::admit_waiting() {
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (options_.max_connections > 0 && in_flight_ >= options_.max_connections) return;
    if (!has_slot(*(*it)->host)) {
      ++it;
      continue;
    }
    auto exchange = std::move(*it);
    it = waiting_.erase(it);
    exchange->host->waiting.fetch_sub(1, std::memory_order_relaxed);
    start_attempt(std::move(exchange));
  }
}

void Engine::start_attempt(std::unique_ptr<Exchange> exchange) {
  HostState& host = *exchange->host;
  if (host.breaker != nullptr && !host.breaker->allow()) {
    const std::string message =
        exchange->what() + ": the circuit for " + exchange->host->key +
        " is open after repeated failures; the next probe goes through in " +
        std::to_string(host.breaker->retry_in().count()) +
        " ms (CIRCUIT_BREAKER_* settings tune this)";
    complete(std::move(exchange),
             std::make_exception_ptr(CircuitOpenError(Backend::http, message)));
    return;
  }
  exchange->holds_breaker_permit = host.breaker != nullptr;
  const auto now = Clock::now();
  exchange->attempt_started = now;
  ++exchange->response.attempts;
  take_easy(*exchange);
  prepare_attempt(*exchange, options_, *tls_, until(now, exchange->deadline));
  CURL* easy = exchange->easy;
  if (curl_multi_add_handle(multi_, easy) != CURLM_OK) {
    complete(std::move(exchange), std::make_exception_ptr(std::runtime_error(
                                      "libcurl refused a transfer (curl_multi_add_handle)")));
    return;
  }
  ++in_flight_;
  raise_to(peak_in_flight_, static_cast<std::int64_t>(in_flight_));
  raise_to(host.peak_in_flight, host.in_flight.fetch_add(1, std::memory_order_relaxed) + 1);
  running_.emplace(easy, std::move(exchange));
}

void Engine::collect_finished() {
  int left = 0;
  while (CURLMsg* message = curl_multi_info_read(multi_, &left)) {
    if (message->msg == CURLMSG_DONE) finish_attempt(message->easy_handle, message->data.result);
  }
}

void Engine::finish_attempt(CURL* easy, CURLcode code) {
  auto found = running_.find(easy);
  if (found == running_.end()) return;
  auto exchange = std::move(found->second);
  running_.erase(found);
  curl_multi_remove_handle(multi_, easy);
  --in_flight_;
  exchange->host->in_flight.fetch_sub(1, std::memory_order_relaxed);
  read_attempt_info(*exchange, code, *tls_);
  after_attempt(std::move(exchange), code);
}

void Engine::after_attempt(std::unique_ptr<Exchange> exchange, CURLcode code) {
  HostState& host = *exchange->host;
  const bool tls_failed_for_good = failed_for_good_on_tls(*exchange);
  if (code != CURLE_OK && !tls_failed_for_good && !exchange->stale_retry_used && !stopping_ &&
      is_idempotent_method(exchange->request.method) && died_on_stale_connection(*exchange, code)) {
    // The server closed the pooled connection while it sat idle: nothing reached it, so send
    // again at once on a fresh connection, ahead of the queue. Not the host's failure.
    if (std::exchange(exchange->holds_breaker_permit, false)) host.breaker->record_cancelled();
    exchange->stale_retry_used = true;
    host.stale_retries.fetch_add(1, std::memory_order_relaxed);
    recycle_easy(*exchange);
    exchange->attempt_queued = Clock::now();
    host.waiting.fetch_add(1, std::memory_order_relaxed);
    waiting_.push_front(std::move(exchange));
    return;
  }
  if (std::exchange(exchange->holds_breaker_permit, false)) {
    // A refused certificate says nothing of the host's health, and an open circuit would hide
    // the cause behind "circuit open" on every later request.
    const bool failed = code != CURLE_OK || exchange->response.status >= 500;
    if (tls_failed_for_good) {
      host.breaker->record_cancelled();
    } else {
      failed ? host.breaker->record_failure() : host.breaker->record_success();
    }
  }
  AttemptOutcome outcome;
  outcome.method = exchange->request.method;
  outcome.status = exchange->response.status;
  outcome.failure = tls_failed_for_good ? AttemptFailure::other : failure_of(code);
  outcome.retry_after = retry_after_of(exchange->response);
  outcome.non_idempotent_opt_in = exchange->request.retry_non_idempotent;
  // The request's timeout bounds its retries too: one whose wait ends past the deadline is
  // not made (RetryVerdict::past_deadline), and the caller gets this attempt's result now.
  const milliseconds time_left = until(Clock::now(), exchange->deadline);
  const RetryVerdict verdict = exchange->policy.decide(outcome, exchange->retries, time_left);
  if (verdict.retry && !stopping_) {
    schedule_retry(std::move(exchange), verdict.delay);
    return;
  }
  if (verdict.past_deadline) {
    exchange->response.retry_skipped =
        retry_skipped_text(*exchange, verdict, outcome.retry_after, time_left, options_);
  }
  const std::string note =
      verdict.past_deadline ? "; " + exchange->response.retry_skipped : std::string();
  std::exception_ptr error;
  if (code != CURLE_OK || exchange->tls_failure) {
    error = transfer_error(*exchange, code, options_, note);
  } else if (exchange->policy.raises_when_exhausted() &&
             exchange->policy.retryable_status(outcome)) {
    const std::string message = exchange->what() + ": status " + std::to_string(outcome.status) +
                                " after " + std::to_string(exchange->response.attempts) +
                                " attempts (" + std::string(setting::kHttpResilienceMaxAttempts) +
                                " sets how many" + note + ")";
    error = std::make_exception_ptr(StatusError(message, exchange->response));
  }
  complete(std::move(exchange), std::move(error));
}

void Engine::schedule_retry(std::unique_ptr<Exchange> exchange, milliseconds delay) {
  ++exchange->retries;
  exchange->host->retries.fetch_add(1, std::memory_order_relaxed);
  retries_.fetch_add(1, std::memory_order_relaxed);
  recycle_easy(*exchange);
  retry_timers_.emplace(Clock::now() + delay, std::move(exchange));
}

void Engine::complete(std::unique_ptr<Exchange> exchange, std::exception_ptr error) {
  recycle_easy(*exchange);
  HostState& host = *exchange->host;
  host.requests.fetch_add(1, std::memory_order_relaxed);
  stats_.record(host.key, outcome_label(exchange->response, error),
                Clock::now() - exchange->submitted);
  // Moved all the way into the caller's hands: the I/O thread must keep no reference to the
  // error, or the last one might be dropped here while the caller still reads it.
  Result result{error ? Response{} : std::move(exchange->response), std::move(error)};
  try {
    exchange->done(std::move(result));
  } catch (...) {
    // A callback that throws must not take the I/O thread (and every other request) down.
  }
}

void Engine::fail_all_queued(const std::string& why) {
  std::vector<std::unique_ptr<Exchange>> queued;
  {
    std::lock_guard lock(inbox_mutex_);
    for (auto& exchange : inbox_) queued.push_back(std::move(exchange));
    inbox_.clear();
  }
  for (auto& exchange : waiting_) {
    exchange->host->waiting.fetch_sub(1, std::memory_order_relaxed);
    queued.push_back(std::move(exchange));
  }
  waiting_.clear();
  for (auto& [when, exchange] : retry_timers_) queued.push_back(std::move(exchange));
  retry_timers_.clear();
  for (auto& exchange : queued) {
    const std::string message = exchange->what() + ": " + why + " (after " +
                                std::to_string(exchange->response.attempts) + " attempts)";
    complete(std::move(exchange), closed_error(message));
  }
}

void Engine::fail_all_running(const std::string& why) {
  auto running = std::move(running_);
  running_.clear();
  for (auto& [easy, exchange] : running) {
    curl_multi_remove_handle(multi_, easy);
    --in_flight_;
    exchange->host->in_flight.fetch_sub(1, std::memory_order_relaxed);
    if (exchange->holds_breaker_permit) exchange->host->breaker->record_cancelled();
    const std::string message = exchange->what() + ": " + why;
    complete(std::move(exchange), closed_error(message));
  }
}

int Engine::poll_timeout_ms(Clock::time_point now) const {
  long curl_ms = -1;
  curl_multi_timeout(multi_, &curl_ms);
  milliseconds wait = curl_ms >= 0 ? milliseconds(curl_ms) : milliseconds(1000);
  if (!retry_timers_.empty()) wait = std::min(wait, until(now, retry_timers_.begin()->first));
  for (const auto& exchange : waiting_) wait = std::min(wait, until(now, exchange->deadline));
  if (stopping_) wait = std::min(wait, until(now, drain_deadline_));
  return static_cast<int>(std::clamp(wait, milliseconds(0), milliseconds(1000)).count());
}

Metrics Engine::metrics() const {
  Metrics result;
  result.requests = stats_.snapshot();
  result.retries = retries_.load(std::memory_order_relaxed);
  result.peak_in_flight = peak_in_flight_.load(std::memory_order_relaxed);
  std::lock_guard lock(hosts_mutex_);
  for (const auto& [key, state] : hosts_) {
    HostMetrics host;
    host.host = key;
    host.requests = state->requests.load(std::memory_order_relaxed);
    host.retries = state->retries.load(std::memory_order_relaxed);
    host.stale_connection_retries = state->stale_retries.load(std::memory_order_relaxed);
    host.connections_new = state->connections_new.load(std::memory_order_relaxed);
    host.connections_reused = state->connections_reused.load(std::memory_order_relaxed);
    host.waiting = state->waiting.load(std::memory_order_relaxed);
    host.in_flight = state->in_flight.load(std::memory_order_relaxed);
    host.peak_in_flight = state->peak_in_flight.load(std::memory_order_relaxed);
    if (state->breaker != nullptr) host.circuit = state->breaker->state();
    result.connections_new += host.connections_new;
    result.connections_reused += host.connections_reused;
    result.waiting += host.waiting;
    result.in_flight += host.in_flight;
    result.hosts.push_back(std::move(host));
  }
  return result;
}

}  // namespace poolkit::http::detail
