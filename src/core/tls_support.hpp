#pragma once
// What every layer needs to say about TLS in the same words: whether a certificate, key or CA
// file named by a setting can be used (checked when settings load, so `poolkit config` and the
// library refuse it before a connection is tried), and what a certificate verification result
// means to the person who has to fix it.

#include <optional>
#include <string>
#include <string_view>

#include "poolkit/tls.hpp"

namespace poolkit::detail {

// Each returns nullopt when the file is usable, else what is wrong in words ("no such file",
// "holds no PEM certificate", ...), without the path: the caller names the variable and path.
std::optional<std::string> certificate_file_problem(const std::string& path);
std::optional<std::string> private_key_file_problem(const std::string& path);
// A CA bundle (a file of PEM certificates) or a CA directory (hashed, as `openssl rehash`
// leaves it; only its existence and readability are checked).
std::optional<std::string> ca_location_problem(const std::string& path);
// Both files must be usable on their own first; then whether the key belongs to the first
// certificate of `cert_path`.
std::optional<std::string> key_mismatch_problem(const std::string& cert_path,
                                                const std::string& key_path);

// The names errors use for a TlsOptions' files: the variables (REDIS_SSL_CA_CERTS, ...) or URL
// options (ssl_ca_certs, ...) they came from.
struct TlsFileNames {
  std::string_view ca;
  std::string_view cert;
  std::string_view key;
};
// For clients built in code, which skip settings validation: throws ConfigError naming the
// file's variable and path when a file cannot be used, or the key does not match.
void require_usable_tls_files(const TlsOptions& tls, const TlsFileNames& names);

// An X509_V_ERR_* result (SSL_get_verify_result, CURLINFO_SSL_VERIFYRESULT) in words:
// "unknown issuer", "hostname mismatch", "certificate expired", ...
std::string verify_result_in_words(long x509_verify_result);

// What to do about a verification result, naming the setting that holds the trust store or
// the host check: "name the CA that signs it in REDIS_SSL_CA_CERTS", ...
std::string verify_result_advice(long x509_verify_result, std::string_view ca_setting,
                                 std::string_view hostname_setting);

// The first TLS error on this thread's OpenSSL error queue, in OpenSSL's words (the queue is
// emptied); empty when there is none.
std::string drain_openssl_errors();

}  // namespace poolkit::detail
