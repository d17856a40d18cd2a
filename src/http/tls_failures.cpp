// The TLS failures of an attempt, in words: from libcurl's code, OpenSSL's verify result and the
// alert text libcurl passes on.

#include <openssl/x509_vfy.h>

#include <array>
#include <string>

#include "../core/tls_support.hpp"
#include "poolkit/setting_names.hpp"
#include "tls.hpp"

namespace poolkit::http::detail {
namespace {

using setting::kHttpCaBundle;
using setting::kHttpClientCert;
using setting::kHttpClientKey;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

template <std::size_t N>
bool contains_any(std::string_view text, const std::array<std::string_view, N>& parts) {
  for (std::string_view part : parts) {
    if (contains(text, part)) return true;
  }
  return false;
}

// Where a CA file set in code (no variable) is named from.
constexpr std::string_view kCaSetInCode = "tls.ca_file";

// "HTTP_CA_BUNDLE (/etc/x/ca.pem)", "SSL_CERT_DIR (/etc/x/certs)", or "the system trust store".
std::string trust_store_of(const TlsOptions& tls) {
  if (!tls.ca_file) return "the system trust store";
  return std::string(tls.ca_source.empty() ? kCaSetInCode : tls.ca_source) + " (" + *tls.ca_file +
         ")";
}

std::string ca_to_set(const TlsOptions& tls) {
  if (!tls.ca_file) return std::string(kHttpCaBundle);
  return tls.ca_source.empty() ? std::string(kCaSetInCode) : tls.ca_source;
}

std::string client_cert_of(const TlsOptions& tls) {
  return std::string(kHttpClientCert) + " (" + tls.cert_file.value_or("") + ")";
}

TlsFailure client_certificate_failure(const TlsOptions& tls) {
  if (!tls.cert_file) {
    return {"client certificate required: the server asks for one and none was sent",
            "set " + std::string(kHttpClientCert) + " and " + std::string(kHttpClientKey) +
                " (mutual TLS) to a certificate the server trusts",
            false};
  }
  return {"client certificate rejected: the server does not accept " + client_cert_of(tls),
          "use a client certificate signed by a CA the server trusts", false};
}

// A certificate the client refused, from OpenSSL's verify result (0: libcurl's own host-name
// check failed, which OpenSSL never saw).
TlsFailure verification_failure(long verify_result, const TlsOptions& tls, std::string_view host) {
  const std::string words = verify_result == X509_V_OK
                                ? std::string("hostname mismatch")
                                : poolkit::detail::verify_result_in_words(verify_result);
  switch (verify_result) {
    case X509_V_OK:
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return {words + ": the server's certificate does not name " + std::string(host),
              "connect by a name the certificate lists, or give the server a certificate for " +
                  std::string(host),
              false};
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return {words + ": the server's certificate is not signed by a CA in " + trust_store_of(tls),
              "name the CA that signs it in " + ca_to_set(tls), false};
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return {words + ": the server's certificate is outside its validity period",
              "the server needs a current certificate (and this machine a correct clock)", false};
    default:
      return {words + ": the server's certificate was refused",
              "check the server's certificate chain against " + trust_store_of(tls), false};
  }
}

// What the handshake's alert or error text says, for CURLE_SSL_CONNECT_ERROR and the alerts a
// TLS 1.3 server sends after the handshake (they surface as a receive error).
std::optional<TlsFailure> handshake_failure(std::string_view text, const TlsOptions& tls,
                                            bool during_handshake) {
  constexpr std::array<std::string_view, 5> kClientCertAlerts{
      "alert certificate required", "alert bad certificate", "alert unknown ca",
      "alert certificate unknown", "alert access denied"};
  if (contains_any(text, kClientCertAlerts)) return client_certificate_failure(tls);
  if (!during_handshake) return std::nullopt;
  constexpr std::array<std::string_view, 3> kNotTls{"wrong version number",
                                                    "packet length too long", "http request"};
  if (contains_any(text, kNotTls)) {
    return TlsFailure{"handshake failure: the server did not answer in TLS",
                      "check that this port serves HTTPS (a plain HTTP server needs http://)",
                      false};
  }
  constexpr std::array<std::string_view, 3> kNoVersion{
      "unsupported protocol", "no protocols available", "alert protocol version"};
  if (contains_any(text, kNoVersion)) {
    return TlsFailure{"handshake failure: no TLS version in common",
                      "the server must offer TLS 1.2 or later", false};
  }
  constexpr std::array<std::string_view, 4> kConnectionLost{"SSL_ERROR_SYSCALL", "unexpected eof",
                                                            "Connection reset", "connection reset"};
  if (contains_any(text, kConnectionLost)) {
    return TlsFailure{"handshake failure: the connection closed during the TLS handshake",
                      "check that the server is up and serves TLS on this port", true};
  }
  // A TLS 1.2 server that requires a client certificate answers its absence with this alert
  // too, with nothing to tell the two apart.
  std::string advice = "check the server's TLS settings (versions, ciphers)";
  if (!tls.cert_file) {
    advice +=
        "; a server that requires a client certificate refuses this way when none is sent: "
        "then set " +
        std::string(kHttpClientCert) + " and " + std::string(kHttpClientKey);
  }
  return TlsFailure{"handshake failure: the server refused the handshake", advice, false};
}

}  // namespace

std::optional<TlsFailure> tls_failure_of(CURLcode code, long verify_result,
                                         std::string_view curl_text, const TlsOptions& tls,
                                         std::string_view host) {
  switch (code) {
    case CURLE_PEER_FAILED_VERIFICATION:
      // libcurl checks the host name itself, after OpenSSL accepted the chain: the verify
      // result then says nothing (0, or 1 "unspecified"), the text says which.
      if (contains(curl_text, "subject name") || contains(curl_text, "target host name")) {
        return verification_failure(X509_V_OK, tls, host);
      }
      return verification_failure(verify_result, tls, host);
    case CURLE_SSL_CONNECT_ERROR:
      // A refused certificate is CURLE_PEER_FAILED_VERIFICATION; here the verify result is
      // libcurl's "unspecified" placeholder, and the handshake's own words say what went wrong.
      return handshake_failure(curl_text, tls, true);
    case CURLE_SSL_CLIENTCERT:
      return client_certificate_failure(tls);
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      return handshake_failure(curl_text, tls, false);
    case CURLE_SSL_CACERT_BADFILE:
      return TlsFailure{"the CA certificates in " + trust_store_of(tls) + " could not be loaded",
                        "name a PEM file of CA certificates, or a directory of them", false};
    case CURLE_SSL_CERTPROBLEM:
      return TlsFailure{"the client certificate " + client_cert_of(tls) + " could not be used",
                        "name a PEM certificate in " + std::string(kHttpClientCert) +
                            " and its unencrypted key in " + std::string(kHttpClientKey),
                        false};
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return TlsFailure{"TLS could not be set up (" + std::string(curl_easy_strerror(code)) + ")",
                        "check the client's TLS settings", false};
    default:
      return std::nullopt;
  }
}

std::optional<TlsFailure> tls_failure_in_response(int status, std::string_view body,
                                                  const TlsOptions& tls, bool over_tls) {
  // nginx's words, on the 400 it sends instead of the page.
  if (status != 400) return std::nullopt;
  if (!over_tls) {
    if (!contains(body, "The plain HTTP request was sent to HTTPS port")) return std::nullopt;
    return TlsFailure{
        "handshake failure: the server speaks TLS on this port, and the URL is "
        "http:// (it answered 400: The plain HTTP request was sent to HTTPS port)",
        "use an https:// URL", false};
  }
  for (const std::string_view page :
       {"No required SSL certificate was sent", "The SSL certificate error"}) {
    if (!contains(body, page)) continue;
    TlsFailure failure = client_certificate_failure(tls);
    failure.cause += " (the server answered 400: " + std::string(page) + ")";
    return failure;
  }
  return std::nullopt;
}

}  // namespace poolkit::http::detail
