#pragma once
// How a client meets a TLS server: whom it trusts, which certificate it shows, what it checks.
// The same shape for every layer: REDIS_SSL_* fill Redis's, HTTP_CA_BUNDLE/HTTP_CLIENT_*/
// HTTP_TLS_VERIFY fill both HTTP clients', and a request may carry its own. MongoDB's TLS lives
// in its connection string (tls=true, tlsCAFile, ...), as every MongoDB driver reads it.

#include <optional>
#include <string>

namespace poolkit {

struct TlsOptions {
  // PEM bundle of the CAs that sign the server's certificate, or a hashed CA directory
  // (HTTP only). nullopt: the system trust store.
  std::optional<std::string> ca_file;
  // Where ca_file came from, for `poolkit config` and error messages: the variable's name
  // ("HTTP_CA_BUNDLE", "REQUESTS_CA_BUNDLE", a URL's "ssl_ca_certs", ...). Empty: set in code.
  std::string ca_source;
  // Mutual TLS: the client certificate (PEM) and its private key. Without key_file the key is
  // read from cert_file.
  std::optional<std::string> cert_file;
  std::optional<std::string> key_file;
  // false: any certificate is accepted (never the default; `config` and `check` warn).
  bool verify_peer = true;
  // false: a certificate for another name is accepted (only meaningful with verify_peer).
  bool verify_hostname = true;

  friend bool operator==(const TlsOptions&, const TlsOptions&) = default;
};

}  // namespace poolkit
