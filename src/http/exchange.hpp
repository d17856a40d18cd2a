#pragma once
// One request through the engine, over all its attempts, and the libcurl glue for one attempt:
// setting up the easy handle, collecting the response, naming the failure.

#include <curl/curl.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <string_view>

#include "host_state.hpp"
#include "poolkit/http.hpp"
#include "response_parsing.hpp"
#include "tls.hpp"

namespace poolkit::http::detail {

struct CurlSlistDeleter {
  void operator()(curl_slist* list) const noexcept { curl_slist_free_all(list); }
};
using HeaderList = std::unique_ptr<curl_slist, CurlSlistDeleter>;

struct Exchange {
  Request request;
  Callback done;
  RetryPolicy policy;
  HostState* host = nullptr;  // its key is "scheme://host:port"
  HeaderList header_list;

  Clock::time_point submitted{};
  Clock::time_point attempt_queued{};  // when the current attempt started waiting for a slot
  Clock::time_point attempt_started{};
  Clock::time_point deadline{};  // of the whole request: submitted + timeout
  std::chrono::milliseconds timeout{0};
  std::size_t max_response_bytes = 0;  // 0: no limit
  int retries = 0;
  bool stale_retry_used = false;
  bool holds_breaker_permit = false;

  CURL* easy = nullptr;
  // The handle still holds the client's connection options and a plain GET's settings from
  // its last use, so a plain GET needs no curl_easy_reset and no setting them again.
  bool easy_set_for_plain_get = false;
  Response response;
  bool got_response_bytes = false;
  // Of the current attempt: body bytes received (kept or not), the header's size, and which
  // limit stopped the transfer, if one did.
  std::size_t body_bytes = 0;
  HeaderBudget header_budget;
  enum class Overflow { none, header, body } overflow = Overflow::none;
  std::size_t upload_offset = 0;
  char error_text[CURL_ERROR_SIZE] = {};
  // The TLS failure the current attempt ended with, if it ended with one.
  std::optional<TlsFailure> tls_failure;

  // "HTTP GET <url, redacted>" for messages; built only when one is needed.
  std::string what() const;
};

// "http://host:port" from a URL; throws ConfigError naming what is wrong (never quoting secrets).
std::string host_key_of(const std::string& url);
// The URL up to its path, query or fragment ("scheme://authority"), which decides its host key;
// empty when the URL has no "://".
std::string_view authority_prefix(std::string_view url) noexcept;
// Validates and normalises the request (method upper case); throws ConfigError.
void normalise(Request& request);

// Sets every option of one attempt on the exchange's easy handle.
void prepare_attempt(Exchange& exchange, const Options& options, const TlsSetup& tls,
                     std::chrono::milliseconds time_left);
// Reads status, timings, connection facts and any TLS failure after an attempt.
void read_attempt_info(Exchange& exchange, CURLcode code, const TlsSetup& tls);

// Whether the attempt ended with a TLS failure that a retry would not fix (a certificate
// refused, a client certificate missing): never retried, and not the host's health.
bool failed_for_good_on_tls(const Exchange& exchange) noexcept;

AttemptFailure failure_of(CURLcode code) noexcept;
// Whether the attempt died on a pooled connection before any response byte (the server had
// closed it while idle), so an idempotent request can be sent again at once.
bool died_on_stale_connection(const Exchange& exchange, CURLcode code);
std::optional<std::chrono::milliseconds> retry_after_of(const Response& response);

// The typed error for a failed attempt; `note` (may be empty) is added to its message.
std::exception_ptr transfer_error(const Exchange& exchange, CURLcode code, const Options& options,
                                  const std::string& note = {});
// Why the retry of `verdict` (past_deadline) was not made, for messages.
std::string retry_skipped_text(const Exchange& exchange, const RetryVerdict& verdict,
                               std::optional<std::chrono::milliseconds> retry_after,
                               std::chrono::milliseconds time_left, const Options& options);
// The outcome label of a finished request for OperationStats.
std::string outcome_label(const Response& response, const std::exception_ptr& error);

}  // namespace poolkit::http::detail
