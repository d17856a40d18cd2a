#include "exchange.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "poolkit/url.hpp"

namespace poolkit::http::detail {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

struct CurlUrlDeleter {
  void operator()(CURLU* url) const noexcept { curl_url_cleanup(url); }
};

std::string url_part(CURLU* url, CURLUPart part, unsigned int flags = 0) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) return {};
  std::string copy(value);
  curl_free(value);
  return copy;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  exchange.got_response_bytes = true;
  exchange.body_bytes += bytes;
  if (!body_within_limit(exchange.body_bytes, exchange.max_response_bytes)) {
    // Stops the transfer (CURLE_WRITE_ERROR) before the bytes past the limit are kept.
    exchange.overflow = Exchange::Overflow::body;
    return 0;
  }
  exchange.response.body.append(data, bytes);
  return bytes;
}

// Enough for most responses, so the list is allocated once instead of growing four times.
constexpr std::size_t kTypicalHeaderCount = 16;

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::size_t bytes = size * count;
  exchange.got_response_bytes = true;
  if (!exchange.header_budget.take(bytes)) {
    exchange.overflow = Exchange::Overflow::header;
    return 0;  // stops the transfer (CURLE_WRITE_ERROR)
  }
  const HeaderLine line = parse_header_line(std::string_view(data, bytes));
  if (line.kind == HeaderLine::Kind::status_line) {
    exchange.response.headers.clear();  // a new response (after 100 Continue or a redirect)
    exchange.response.headers.reserve(kTypicalHeaderCount);
  } else if (line.kind == HeaderLine::Kind::field) {
    exchange.response.headers.emplace_back(std::string(line.name), std::string(line.value));
  }
  return bytes;
}

long whole_seconds(milliseconds duration) {
  return static_cast<long>(std::max<std::int64_t>(0, duration.count() / 1000));
}

microseconds info_time(CURL* easy, CURLINFO what) {
  curl_off_t value = 0;
  curl_easy_getinfo(easy, what, &value);
  return microseconds(value);
}

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto& exchange = *static_cast<Exchange*>(user);
  const std::string& body = exchange.request.body;
  const std::size_t n = std::min(size * count, body.size() - exchange.upload_offset);
  std::copy_n(body.data() + exchange.upload_offset, n, buffer);
  exchange.upload_offset += n;
  return n;
}

// libcurl silently re-sends a request whose pooled connection turns out dead before any
// response byte, POST included. Refusing the rewind it needs for that keeps a non-idempotent
// request from reaching the server twice; it fails with CURLE_SEND_FAIL_REWIND instead.
int refuse_rewind(void*, curl_off_t, int) {
  return CURL_SEEKFUNC_CANTSEEK;
}

void set_method_and_body(CURL* easy, Exchange& exchange) {
  const Request& request = exchange.request;
  if (!request.body.empty() && !is_idempotent_method(request.method)) {
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(easy, CURLOPT_READDATA, &exchange);
    curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION, refuse_rewind);
    if (request.method != "POST") {
      curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
    return;
  }
  if (request.method == "GET" && request.body.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    return;
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
    return;
  }
  if (!request.body.empty() || request.method == "POST") {
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, request.body.data());
  }
  if (request.method != "POST") {
    curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
}

void set_connection_options(CURL* easy, const Options& options, const TlsSetup& tls,
                            const Request& request) {
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION,
                   options.http2 ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
  if (options.http2) curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  curl_easy_setopt(easy, CURLOPT_DNS_CACHE_TIMEOUT, whole_seconds(options.dns_ttl));
  // libcurl counts the age in whole seconds; below one second means "never reuse".
  curl_easy_setopt(easy, CURLOPT_MAXAGE_CONN, std::max(1L, whole_seconds(options.idle_max_age)));
  if (options.tcp_keepalive_idle.count() > 0) {
    const long idle = std::max(1L, whole_seconds(options.tcp_keepalive_idle));
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPIDLE, idle);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPINTVL, idle);
  }
  if (!options.reuse_connections) {
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
  }
  curl_easy_setopt(easy, CURLOPT_USERAGENT, options.user_agent.c_str());
  tls.apply(easy, request.tls ? *request.tls : tls.client_tls());
}

HeaderList header_list_of(const Headers& headers) {
  curl_slist* list = nullptr;
  auto append = [&list](const std::string& line) {
    curl_slist* longer = curl_slist_append(list, line.c_str());
    if (longer == nullptr) throw std::bad_alloc();
    list = longer;
  };
  // libcurl would wait up to a second for "100 Continue" before sending a larger body.
  append("Expect:");  // (a request with neither headers nor body gets no list at all)
  for (const auto& [name, value] : headers) append(name + ": " + value);
  return HeaderList(list);
}

std::string attempts_text(const Exchange& exchange) {
  const int attempts = exchange.response.attempts;
  return attempts == 1 ? "1 attempt" : std::to_string(attempts) + " attempts";
}

std::string timeout_setting_of(const Exchange& exchange, const Options& options) {
  return exchange.request.timeout ? std::string("the request's timeout") : options.timeout_setting;
}

std::string elapsed_ms_text(const Exchange& exchange) {
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - exchange.submitted);
  return std::to_string(elapsed.count()) + " ms";
}

// "HTTP GET <url>: no complete response after 5003 ms (REQUESTS_TIMEOUT: 5000 ms for the whole
// request)": the real time taken, and the bound that stopped it.
std::string timeout_text(const Exchange& exchange, const Options& options) {
  return exchange.what() + ": no complete response after " + elapsed_ms_text(exchange) + " (" +
         timeout_setting_of(exchange, options) + ": " + std::to_string(exchange.timeout.count()) +
         " ms for the whole request, retries included)";
}

std::string body_limit_setting_of(const Exchange& exchange, const Options& options) {
  return exchange.request.max_response_bytes ? std::string("the request's max_response_bytes")
                                             : options.response_limit_setting;
}

// The typed error when a limit stopped the transfer, or null.
std::exception_ptr size_error(const Exchange& exchange, CURLcode code, const Options& options,
                              const std::string& note) {
  using Part = ResponseTooLargeError::Part;
  const std::string what = exchange.what();
  const std::string tail = " (" + attempts_text(exchange) + note + ")";
  if (exchange.overflow == Exchange::Overflow::body || code == CURLE_FILESIZE_EXCEEDED) {
    const std::size_t limit = exchange.max_response_bytes;
    const std::string setting = body_limit_setting_of(exchange, options);
    std::string how;
    if (exchange.overflow == Exchange::Overflow::body) {
      how = "the response body passed " + setting + " (" + std::to_string(limit) +
            " bytes): the transfer was stopped after " + std::to_string(exchange.body_bytes) +
            " bytes";
    } else {
      // libcurl checks Content-Length before the header line reaches the header callback, and
      // does not keep the value it refused, so the message can't quote it.
      how = "the response's Content-Length is more than " + setting + " (" + std::to_string(limit) +
            " bytes): refused before reading its body";
    }
    return std::make_exception_ptr(ResponseTooLargeError(
        what + ": " + how + tail + ": raise " + setting + " if such responses are expected",
        Part::body, limit, exchange.body_bytes));
  }
  const HeaderBudget& budget = exchange.header_budget;
  if (exchange.overflow == Exchange::Overflow::header) {
    const std::string which =
        budget.lines() > kMaxResponseHeaderLines
            ? "more than " + std::to_string(kMaxResponseHeaderLines) + " lines"
            : "more than " + std::to_string(kMaxResponseHeaderBytes) + " bytes";
    return std::make_exception_ptr(ResponseTooLargeError(
        what + ": response header too large from " + exchange.host->key + ": " + which + " (" +
            std::to_string(budget.bytes()) + " bytes in " + std::to_string(budget.lines()) +
            " lines read, then the transfer was stopped)" + tail,
        Part::header, kMaxResponseHeaderBytes, budget.bytes()));
  }
  // libcurl keeps a header line until its end, and gives up with "Out of memory" once one (the
  // status line included) passes CURL_MAX_HTTP_HEADER; no body byte has arrived by then.
  const bool line_too_long = code == CURLE_OUT_OF_MEMORY && exchange.body_bytes == 0;
  // libcurl's own total (300 KB), should a response ever pass it before ours.
  const bool curl_total =
      code == CURLE_RECV_ERROR &&
      std::string_view(exchange.error_text).starts_with("Too large response headers");
  if (line_too_long || curl_total) {
    const std::string which =
        line_too_long ? "a header line (or the status line) is longer than libcurl's limit of " +
                            std::to_string(CURL_MAX_HTTP_HEADER) + " bytes"
                      : std::string(exchange.error_text);
    return std::make_exception_ptr(ResponseTooLargeError(
        what + ": response header too large from " + exchange.host->key + ": " + which + tail,
        Part::header, line_too_long ? CURL_MAX_HTTP_HEADER : kMaxResponseHeaderBytes,
        budget.bytes() + (line_too_long ? CURL_MAX_HTTP_HEADER : 0)));
  }
  return nullptr;
}

// "host:port" of a host key ("scheme://host:port").
std::string_view authority_of(std::string_view key) {
  const auto separator = key.find("://");
  return separator == std::string_view::npos ? key : key.substr(separator + 3);
}

// "host" of a host key: its authority without the port ("[::1]" stays bracketed).
std::string_view host_of(std::string_view key) {
  const std::string_view authority = authority_of(key);
  const auto colon = authority.rfind(':');
  const auto bracket = authority.rfind(']');
  const bool has_port =
      colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket);
  return has_port ? authority.substr(0, colon) : authority;
}

const TlsOptions& effective_tls(const Exchange& exchange, const TlsSetup& setup) {
  return exchange.request.tls ? *exchange.request.tls : setup.client_tls();
}

std::optional<TlsFailure> tls_failure_after(const Exchange& exchange, CURLcode code,
                                            const TlsSetup& setup) {
  const TlsOptions& tls = effective_tls(exchange, setup);
  if (code == CURLE_OK) {
    return tls_failure_in_response(exchange.response.status, exchange.response.body, tls,
                                   exchange.host->key.starts_with("https://"));
  }
  long verify_result = 0;
  curl_easy_getinfo(exchange.easy, CURLINFO_SSL_VERIFYRESULT, &verify_result);
  return tls_failure_of(code, verify_result, exchange.error_text, tls, host_of(exchange.host->key));
}

// "HTTP GET <url>: TLS to host:port failed: <cause>; <what to do> (<libcurl's words>; 1
// attempt)": the shape every layer uses for a TLS failure.
std::exception_ptr tls_error(const Exchange& exchange, const std::string& note) {
  const TlsFailure& failure = *exchange.tls_failure;
  std::string tail = " (";
  if (exchange.error_text[0] != '\0') tail += "libcurl: " + std::string(exchange.error_text) + "; ";
  tail += attempts_text(exchange) + note + ")";
  return std::make_exception_ptr(
      TlsError(Backend::http,
               exchange.what() + ": TLS to " + std::string(authority_of(exchange.host->key)) +
                   " failed: " + failure.cause + "; " + failure.advice + tail,
               failure.retryable));
}

}  // namespace

bool failed_for_good_on_tls(const Exchange& exchange) noexcept {
  return exchange.tls_failure && !exchange.tls_failure->retryable;
}

std::string Exchange::what() const {
  return "HTTP " + request.method + " " + redact_url_text(request.url);
}

std::string host_key_of(const std::string& url) {
  std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  if (!parsed) throw std::bad_alloc();
  if (curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    throw ConfigError("HTTP request URL '" + redact_url_text(url) +
                      "' does not parse: give an absolute http:// or https:// URL");
  }
  const std::string scheme = url_part(parsed.get(), CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") {
    throw ConfigError("HTTP request URL '" + redact_url_text(url) + "' has scheme '" + scheme +
                      "': only http:// and https:// are supported");
  }
  const std::string host = url_part(parsed.get(), CURLUPART_HOST);
  const std::string port = url_part(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  return scheme + "://" + host + ":" + port;
}

std::string_view authority_prefix(std::string_view url) noexcept {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return {};
  const auto authority_end = url.find_first_of("/?#", scheme_end + 3);
  return url.substr(0, authority_end);
}

void normalise(Request& request) {
  if (request.method.empty()) {
    throw ConfigError("HTTP request has an empty method: give one such as GET or POST");
  }
  for (char& c : request.method) {
    const auto byte = static_cast<unsigned char>(c);
    if (!std::isalpha(byte) && c != '-' && c != '_') {
      throw ConfigError(
          "HTTP request method has a character that is not a letter: give a "
          "method such as GET or POST");
    }
    c = static_cast<char>(std::toupper(byte));
  }
}

void prepare_attempt(Exchange& exchange, const Options& options, const TlsSetup& tls,
                     std::chrono::milliseconds time_left) {
  CURL* easy = exchange.easy;
  const Request& request = exchange.request;
  // A GET without a body or headers of its own: every option it needs beyond the ones set
  // below for each attempt is the same from one such request to the next.
  const bool plain_get = request.method == "GET" && request.body.empty() &&
                         request.headers.empty() && !request.follow_redirects && !request.tls;
  const bool options_in_place = plain_get && exchange.easy_set_for_plain_get;
  if (!options_in_place) curl_easy_reset(easy);
  exchange.response.headers.clear();
  exchange.response.body.clear();
  exchange.got_response_bytes = false;
  exchange.body_bytes = 0;
  exchange.header_budget.reset();
  exchange.overflow = Exchange::Overflow::none;
  exchange.upload_offset = 0;
  exchange.error_text[0] = '\0';
  exchange.tls_failure.reset();
  const bool needs_header_list = !request.headers.empty() || !request.body.empty();
  if (needs_header_list && !exchange.header_list) {
    exchange.header_list = header_list_of(exchange.request.headers);
  }

  curl_easy_setopt(easy, CURLOPT_PRIVATE, &exchange);
  curl_easy_setopt(easy, CURLOPT_URL, exchange.request.url.c_str());
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, exchange.error_text);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, &exchange);
  curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(easy, CURLOPT_HEADERDATA, &exchange);
  if (exchange.header_list) curl_easy_setopt(easy, CURLOPT_HTTPHEADER, exchange.header_list.get());
  const long timeout_ms = std::max<long>(1, static_cast<long>(time_left.count()));
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  // Refuses a body whose Content-Length is past the limit before any of it arrives; the write
  // callback counts the rest (chunked, or longer than announced). A HEAD response's
  // Content-Length describes a body that never comes.
  const bool head = request.method == "HEAD";
  curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE,
                   head ? curl_off_t{0} : static_cast<curl_off_t>(exchange.max_response_bytes));
  if (options_in_place) return;
  curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, request.follow_redirects ? 1L : 0L);
  set_connection_options(easy, options, tls, request);
  set_method_and_body(easy, exchange);
  exchange.easy_set_for_plain_get = plain_get;
}

void read_attempt_info(Exchange& exchange, CURLcode code, const TlsSetup& tls) {
  CURL* easy = exchange.easy;
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  long connects = 0;
  curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &connects);
  Response& response = exchange.response;
  response.status = code == CURLE_OK ? static_cast<int>(status) : 0;
  const bool had_connection =
      code == CURLE_OK || exchange.got_response_bytes || failure_of(code) == AttemptFailure::broken;
  response.reused_connection = had_connection && connects == 0;
  if (connects > 0) exchange.host->connections_new.fetch_add(1, std::memory_order_relaxed);
  if (response.reused_connection) {
    exchange.host->connections_reused.fetch_add(1, std::memory_order_relaxed);
  }
  Timings& timings = response.timings;
  timings.queued =
      std::chrono::duration_cast<microseconds>(exchange.attempt_started - exchange.attempt_queued);
  timings.dns = info_time(easy, CURLINFO_NAMELOOKUP_TIME_T);
  timings.connect = info_time(easy, CURLINFO_CONNECT_TIME_T);
  timings.tls = info_time(easy, CURLINFO_APPCONNECT_TIME_T);
  timings.first_byte = info_time(easy, CURLINFO_STARTTRANSFER_TIME_T);
  timings.total = info_time(easy, CURLINFO_TOTAL_TIME_T);
  timings.elapsed = std::chrono::duration_cast<microseconds>(Clock::now() - exchange.submitted);
  exchange.tls_failure = tls_failure_after(exchange, code, tls);
}

AttemptFailure failure_of(CURLcode code) noexcept {
  switch (code) {
    case CURLE_OK:
      return AttemptFailure::none;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
      return AttemptFailure::connect;
    case CURLE_OPERATION_TIMEDOUT:
      return AttemptFailure::timeout;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return AttemptFailure::broken;
    default:
      return AttemptFailure::other;
  }
}

bool died_on_stale_connection(const Exchange& exchange, CURLcode code) {
  const bool before_any_byte =
      code == CURLE_SEND_ERROR || code == CURLE_RECV_ERROR || code == CURLE_GOT_NOTHING;
  long connects = 1;
  curl_easy_getinfo(exchange.easy, CURLINFO_NUM_CONNECTS, &connects);
  return before_any_byte && connects == 0 && !exchange.got_response_bytes;
}

std::optional<std::chrono::milliseconds> retry_after_of(const Response& response) {
  const auto value = response.header("Retry-After");
  if (!value) return std::nullopt;
  return parse_retry_after(*value, std::time(nullptr));
}

std::exception_ptr transfer_error(const Exchange& exchange, const CURLcode code,
                                  const Options& options, const std::string& note) {
  if (auto too_large = size_error(exchange, code, options, note)) return too_large;
  if (exchange.tls_failure) return tls_error(exchange, note);
  const std::string what = exchange.what();
  const std::string detail = exchange.error_text[0] != '\0' ? std::string(exchange.error_text)
                                                            : std::string(curl_easy_strerror(code));
  std::string tail = " (" + detail + "; " + attempts_text(exchange) + note + ")";
  if (code == CURLE_SEND_FAIL_REWIND) {
    tail += ": the pooled connection was dead; a " + exchange.request.method +
            " is not sent twice, since the server may have acted on it";
  }
  // libcurl's "Received HTTP/0.9 when not allowed", "Unsupported HTTP version", ...: the URL's
  // scheme was checked before, so these can only come from the reply.
  if (code == CURLE_UNSUPPORTED_PROTOCOL || code == CURLE_WEIRD_SERVER_REPLY) {
    return std::make_exception_ptr(
        ProtocolError(Backend::http, what + ": the reply from " + exchange.host->key +
                                         " is not an HTTP/1.x response" + tail +
                                         ": check that the URL names an HTTP server"));
  }
  switch (failure_of(code)) {
    case AttemptFailure::connect:
      return std::make_exception_ptr(
          ConnectError(Backend::http, what + ": could not connect to " + exchange.host->key + tail +
                                          ": check that the server is up and the URL is right"));
    case AttemptFailure::timeout:
      return std::make_exception_ptr(
          TimeoutError(Backend::http, timeout_text(exchange, options) + tail + ": raise " +
                                          timeout_setting_of(exchange, options) +
                                          " if the server is just slow"));
    case AttemptFailure::broken:
      return std::make_exception_ptr(
          ProtocolError(Backend::http, what + ": the connection to " + exchange.host->key +
                                           " broke before the response was complete" + tail));
    default:
      return std::make_exception_ptr(
          Error(ErrorCode::protocol, Backend::http, false, what + ": request failed" + tail));
  }
}

std::string retry_skipped_text(const Exchange& exchange, const RetryVerdict& verdict,
                               std::optional<std::chrono::milliseconds> retry_after,
                               milliseconds time_left, const Options& options) {
  std::string wait;
  if (verdict.from_retry_after && retry_after) {
    const bool saturated = *retry_after >= kRetryAfterMax;
    wait = "the server's Retry-After of " + std::string(saturated ? "at least " : "") +
           std::to_string(retry_after->count() / 1000) + " s";
    if (*retry_after != verdict.delay) {
      wait += " (" + std::to_string(verdict.delay.count()) + " ms after the cap)";
    }
  } else {
    wait = "the backoff of " + std::to_string(verdict.delay.count()) + " ms";
  }
  return "retry skipped: " + wait + " would not end before the deadline, " +
         std::to_string(std::max<std::int64_t>(0, time_left.count())) + " ms away (" +
         timeout_setting_of(exchange, options) + ": " + std::to_string(exchange.timeout.count()) +
         " ms for the whole request)";
}

std::string outcome_label(const Response& response, const std::exception_ptr& error) {
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const StatusError& status_error) {
      return std::to_string(status_error.status() / 100) + "xx";
    } catch (const Error& typed) {
      return std::string(to_string(typed.code()));
    } catch (...) {
      return "other";
    }
  }
  return std::to_string(response.status / 100) + "xx";
}

}  // namespace poolkit::http::detail

namespace poolkit::http {

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (detail::equals_ignoring_case(key, name)) return value;
  }
  return std::nullopt;
}

}  // namespace poolkit::http
