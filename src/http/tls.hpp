#pragma once
// TLS for the engine's https:// transfers: the options every transfer gets (the client's or its
// request's TlsOptions), one trust store per client with sessions resumed across its
// connections, and the TLS failures an attempt can end with, named in words.
//
// Why the trust store is loaded once per client: libcurl (7.87+, OpenSSL) keeps the X509 store it
// built from CURLOPT_CAINFO on the multi handle and hands it to the next connection, but only
// when no CA directory is set. Debian's libcurl sets one by default (/etc/ssl/certs), so without
// clearing it every new connection re-reads the whole CA bundle (about 29 ms for the system's).
// Why sessions resume: each easy handle keeps the sessions of its connections, and the engine
// reuses its easy handles, so after the first connections every new one resumes; libcurl's
// SSL_OP_NO_TICKET is cleared so a TLS 1.2 server that keeps no session-ID cache (nginx's
// default) can resume by ticket. A CURLSH sharing one session cache over all handles was
// measured and dropped: with libcurl 7.88 over TLS 1.3 it made a quarter of the connections pay
// a full handshake (docs/benchmarks.md, "HTTPS").

#include <curl/curl.h>

#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "poolkit/http.hpp"

namespace poolkit::http::detail {

class TlsSetup {
 public:
  // Checks the client's files (ConfigError naming the setting and the path).
  explicit TlsSetup(const TlsOptions& client_tls);
  TlsSetup(const TlsSetup&) = delete;
  TlsSetup& operator=(const TlsSetup&) = delete;

  // Checks a request's own TLS files, once per distinct set of paths (thread-safe); throws
  // ConfigError naming the path.
  void check_request_tls(const TlsOptions& tls);
  // Sets every TLS option of one transfer: `tls` is the request's own or the client's.
  void apply(CURL* easy, const TlsOptions& tls) const;
  const TlsOptions& client_tls() const noexcept { return client_tls_; }

 private:
  void set_trust_store(CURL* easy, const TlsOptions& tls) const;

  TlsOptions client_tls_;
  bool client_ca_is_directory_ = false;
  // libcurl runs on the same OpenSSL as poolkit, so its SSL_CTX may be adjusted.
  bool can_adjust_ssl_ctx_ = false;
  // libcurl's built-in CA bundle exists: with no CA named, it alone is the system store.
  bool system_bundle_present_ = false;

  std::mutex checked_mutex_;
  std::set<std::string, std::less<>> checked_;  // request TLS file sets already checked
};

// A TLS failure of one attempt, in words.
struct TlsFailure {
  std::string cause;   // "unknown issuer: the server's certificate is not signed by ..."
  std::string advice;  // what to do
  bool retryable = false;
};

// The TLS failure behind a failed transfer, or nullopt when it was no TLS failure.
// `verify_result` is CURLINFO_SSL_VERIFYRESULT; `curl_text` libcurl's error text; `host` the
// host the URL names.
std::optional<TlsFailure> tls_failure_of(CURLcode code, long verify_result,
                                         std::string_view curl_text, const TlsOptions& tls,
                                         std::string_view host);
// A TLS failure a server answers with a status page instead of an alert (nginx: "400 No
// required SSL certificate was sent" for mutual TLS without a client certificate, and "400 The
// plain HTTP request was sent to HTTPS port" for an http:// URL at a TLS port): that failure in
// words, or nullopt. `over_tls`: the URL was https://.
std::optional<TlsFailure> tls_failure_in_response(int status, std::string_view body,
                                                  const TlsOptions& tls, bool over_tls);

}  // namespace poolkit::http::detail
