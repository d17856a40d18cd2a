#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <filesystem>
#include <string>

#include "../core/tls_support.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"
#include "tls.hpp"

namespace poolkit::http::detail {
namespace {

// Bounds the set of request TLS file sets already checked: a caller naming ever new files must
// not grow it without end.
constexpr std::size_t kCheckedTlsSetsMax = 64;

// What messages call the files of a client's TLS (its settings) and of a request's own.
constexpr poolkit::detail::TlsFileNames kClientFileNames{
    setting::kHttpCaBundle, setting::kHttpClientCert, setting::kHttpClientKey};
constexpr poolkit::detail::TlsFileNames kRequestFileNames{
    "the request's tls.ca_file", "the request's tls.cert_file", "the request's tls.key_file"};

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

bool is_directory(const std::optional<std::string>& path) {
  std::error_code error;
  return path && std::filesystem::is_directory(*path, error);
}

}  // namespace

TlsSetup::TlsSetup(const TlsOptions& client_tls)
    : client_tls_(client_tls),
      client_ca_is_directory_(is_directory(client_tls.ca_file)),
      can_adjust_ssl_ctx_(curl_runs_on_our_openssl()),
      system_bundle_present_(system_bundle_exists()) {
  poolkit::detail::require_usable_tls_files(client_tls_, kClientFileNames);
}

void TlsSetup::check_request_tls(const TlsOptions& tls) {
  std::string key = tls.ca_file.value_or("") + '\n' + tls.cert_file.value_or("") + '\n' +
                    tls.key_file.value_or("");
  {
    std::lock_guard lock(checked_mutex_);
    if (checked_.contains(key)) return;
  }
  poolkit::detail::require_usable_tls_files(tls, kRequestFileNames);
  std::lock_guard lock(checked_mutex_);
  if (checked_.size() >= kCheckedTlsSetsMax) checked_.clear();
  checked_.insert(std::move(key));
}

void TlsSetup::set_trust_store(CURL* easy, const TlsOptions& tls) const {
  if (!tls.ca_file) {
    // The system store: libcurl's CA bundle alone, without its CA directory, so the store is
    // built once per client (the bundle holds what the directory holds: update-ca-certificates
    // writes both).
    if (system_bundle_present_) curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
    return;
  }
  const bool directory = &tls == &client_tls_ ? client_ca_is_directory_ : is_directory(tls.ca_file);
  if (directory) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, nullptr);
    curl_easy_setopt(easy, CURLOPT_CAPATH, tls.ca_file->c_str());
  } else {
    curl_easy_setopt(easy, CURLOPT_CAINFO, tls.ca_file->c_str());
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
  }
}

void TlsSetup::apply(CURL* easy, const TlsOptions& tls) const {
  curl_easy_setopt(easy, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  if (can_adjust_ssl_ctx_) curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, allow_session_tickets);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, tls.verify_peer ? 1L : 0L);
  curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, tls.verify_peer && tls.verify_hostname ? 2L : 0L);
  if (tls.verify_peer) set_trust_store(easy, tls);
  if (tls.cert_file) {
    curl_easy_setopt(easy, CURLOPT_SSLCERT, tls.cert_file->c_str());
    curl_easy_setopt(easy, CURLOPT_SSLCERTTYPE, "PEM");
    if (tls.key_file) curl_easy_setopt(easy, CURLOPT_SSLKEY, tls.key_file->c_str());
  }
}

}  // namespace poolkit::http::detail
