#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <string>

#include "../core/tls_support.hpp"
#include "poolkit/error.hpp"
#include "tls.hpp"

namespace poolkit::http::detail {
namespace {

// Bounds the set of request TLS file sets already checked: a caller naming ever new files must
// not grow it without end.
constexpr std::size_t kCheckedTlsSetsMax = 64;

constexpr std::string_view kClientCertSetting = "HTTP_CLIENT_CERT";
constexpr std::string_view kClientKeySetting = "HTTP_CLIENT_KEY";

// libcurl clears session tickets (SSL_OP_NO_TICKET), so against a TLS 1.2 server without a
// session-ID cache every connection pays a full handshake. Tickets are what browsers use.
CURLcode allow_session_tickets(CURL*, void* ssl_ctx, void*) {
  SSL_CTX_clear_options(static_cast<SSL_CTX*>(ssl_ctx), SSL_OP_NO_TICKET);
  return CURLE_OK;
}

// Whether libcurl's TLS backend is the OpenSSL poolkit links (same major version), so the
// SSL_CTX it hands to CURLOPT_SSL_CTX_FUNCTION is one this code may touch.
bool curl_runs_on_our_openssl() {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  if (info == nullptr || info->ssl_version == nullptr) return false;
  const std::string expected = "OpenSSL/" + std::to_string(OPENSSL_version_major()) + ".";
  return std::string_view(info->ssl_version).starts_with(expected);
}

// libcurl's built-in CA bundle (Debian: /etc/ssl/certs/ca-certificates.crt), if it exists.
bool system_bundle_exists() {
  CURL* easy = curl_easy_init();
  if (easy == nullptr) return false;
  char* path = nullptr;
  curl_easy_getinfo(easy, CURLINFO_CAINFO, &path);
  std::error_code error;
  const bool exists = path != nullptr && std::filesystem::is_regular_file(path, error);
  curl_easy_cleanup(easy);
  return exists;
}

bool is_directory(const std::string& path) {
  std::error_code error;
  return std::filesystem::is_directory(path, error);
}

[[noreturn]] void file_error(std::string_view setting, const std::string& path,
                             const std::string& problem, std::string_view expected) {
  throw ConfigError(std::string(setting) + " (" + path + "): " + problem + "; expected " +
                    std::string(expected));
}

// Throws ConfigError when a file of `tls` can't be used. `whose`: "" for the client's (named by
// their settings), or "the request's " for a request's own.
void check_files(const TlsOptions& tls, const std::string& whose) {
  if (!tls.ca.empty()) {
    if (auto problem = poolkit::detail::ca_location_problem(tls.ca)) {
      file_error(whose.empty() ? tls.ca_setting : whose + "tls.ca", tls.ca, *problem,
                 "a PEM file of CA certificates or a directory of them");
    }
  }
  const std::string cert_name =
      whose.empty() ? std::string(kClientCertSetting) : whose + "tls.client_cert";
  const std::string key_name =
      whose.empty() ? std::string(kClientKeySetting) : whose + "tls.client_key";
  if (!tls.client_key.empty() && tls.client_cert.empty()) {
    throw ConfigError(key_name + " is set but " + cert_name +
                      " is not; expected both (the client certificate and its key), or neither");
  }
  if (tls.client_cert.empty()) return;
  if (auto problem = poolkit::detail::certificate_file_problem(tls.client_cert)) {
    file_error(cert_name, tls.client_cert, *problem, "a PEM certificate");
  }
  const std::string& key = tls.client_key.empty() ? tls.client_cert : tls.client_key;
  if (auto problem = poolkit::detail::private_key_file_problem(key)) {
    file_error(tls.client_key.empty() ? cert_name : key_name, key, *problem,
               "a PEM private key (unencrypted)");
  }
  if (auto problem = poolkit::detail::key_mismatch_problem(tls.client_cert, key)) {
    file_error(key_name, key, *problem, "the key of " + cert_name + " (" + tls.client_cert + ")");
  }
}

}  // namespace

TlsSetup::TlsSetup(const TlsOptions& client_tls)
    : client_tls_(client_tls),
      client_ca_is_directory_(is_directory(client_tls.ca)),
      can_adjust_ssl_ctx_(curl_runs_on_our_openssl()),
      system_bundle_present_(system_bundle_exists()) {
  check_files(client_tls_, "");
}

void TlsSetup::check_request_tls(const TlsOptions& tls) {
  std::string key = tls.ca + '\n' + tls.client_cert + '\n' + tls.client_key;
  {
    std::lock_guard lock(checked_mutex_);
    if (checked_.contains(key)) return;
  }
  check_files(tls, "the request's ");
  std::lock_guard lock(checked_mutex_);
  if (checked_.size() >= kCheckedTlsSetsMax) checked_.clear();
  checked_.insert(std::move(key));
}

void TlsSetup::set_trust_store(CURL* easy, const TlsOptions& tls) const {
  if (tls.ca.empty()) {
    // The system store: libcurl's CA bundle alone, without its CA directory, so the store is
    // built once per client (the bundle holds what the directory holds: update-ca-certificates
    // writes both).
    if (system_bundle_present_) curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
    return;
  }
  const bool directory = &tls == &client_tls_ ? client_ca_is_directory_ : is_directory(tls.ca);
  if (directory) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(easy, CURLOPT_CAPATH, tls.ca.c_str());
  } else {
    curl_easy_setopt(easy, CURLOPT_CAINFO, tls.ca.c_str());
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
  }
}

void TlsSetup::apply(CURL* easy, const TlsOptions& tls) const {
  curl_easy_setopt(easy, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (can_adjust_ssl_ctx_) curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, allow_session_tickets);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, tls.verify ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, tls.verify ? 2L : 0L);
  if (tls.verify) set_trust_store(easy, tls);
  if (!tls.client_cert.empty()) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, tls.client_cert.c_str());
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    if (!tls.client_key.empty()) curl_easy_setopt(easy, CURLOPT_SSLKEY, tls.client_key.c_str());
  }
}

}  // namespace poolkit::http::detail
