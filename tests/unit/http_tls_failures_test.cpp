// The words for each TLS failure libcurl can end a transfer with (src/http/tls.hpp), including
// those nginx can't be made to produce: alerts a TLS 1.3 server sends after the handshake, a
// server that does not speak TLS, a connection lost mid-handshake.

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>

#include "http/tls.hpp"

namespace poolkit::http::detail {
namespace {

TlsOptions with_ca(std::string ca, std::string source = "HTTP_CA_BUNDLE") {
  TlsOptions tls;
  tls.ca_file = std::move(ca);
  tls.ca_source = std::move(source);
  return tls;
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(HttpTlsFailures, HostNameMismatchNamesTheHost) {
  // libcurl checks the name itself: OpenSSL's verify result says nothing useful.
  for (long verify_result : {0L, 1L}) {
    const auto failure = tls_failure_of(
        CURLE_PEER_FAILED_VERIFICATION, verify_result,
        "SSL: no alternative certificate subject name matches target host name 'api.example.com'",
        with_ca("/etc/x/ca.pem"), "api.example.com");
    ASSERT_TRUE(failure);
    EXPECT_TRUE(failure->cause.starts_with("hostname mismatch")) << failure->cause;
    EXPECT_TRUE(has(failure->cause, "api.example.com")) << failure->cause;
    EXPECT_FALSE(failure->retryable);
  }
}

TEST(HttpTlsFailures, UnknownIssuerNamesTheTrustStoreInForce) {
  const auto named =
      tls_failure_of(CURLE_PEER_FAILED_VERIFICATION, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                     "", with_ca("/etc/x/ca.pem", "SSL_CERT_FILE"), "h");
  ASSERT_TRUE(named);
  EXPECT_TRUE(named->cause.starts_with("unknown issuer")) << named->cause;
  EXPECT_TRUE(has(named->cause, "SSL_CERT_FILE (/etc/x/ca.pem)")) << named->cause;
  EXPECT_TRUE(has(named->advice, "SSL_CERT_FILE")) << named->advice;

  const auto system = tls_failure_of(CURLE_PEER_FAILED_VERIFICATION,
                                     X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "", TlsOptions{}, "h");
  ASSERT_TRUE(system);
  EXPECT_TRUE(has(system->cause, "the system trust store")) << system->cause;
  EXPECT_TRUE(has(system->advice, "HTTP_CA_BUNDLE")) << system->advice;
}

TEST(HttpTlsFailures, ExpiredAndNotYetValid) {
  for (long result : {long{X509_V_ERR_CERT_HAS_EXPIRED}, long{X509_V_ERR_CERT_NOT_YET_VALID}}) {
    const auto failure =
        tls_failure_of(CURLE_PEER_FAILED_VERIFICATION, result, "", TlsOptions{}, "h");
    ASSERT_TRUE(failure);
    EXPECT_TRUE(has(failure->cause, "validity period")) << failure->cause;
    EXPECT_FALSE(failure->retryable);
  }
}

TEST(HttpTlsFailures, ClientCertificateAlertsAfterATls13Handshake) {
  const std::string alert =
      "OpenSSL SSL_read: error:0A00045C:SSL routines::tlsv13 alert certificate required, errno 0";
  const auto without = tls_failure_of(CURLE_RECV_ERROR, 0, alert, TlsOptions{}, "h");
  ASSERT_TRUE(without);
  EXPECT_TRUE(without->cause.starts_with("client certificate required")) << without->cause;
  EXPECT_TRUE(has(without->advice, "HTTP_CLIENT_CERT")) << without->advice;
  EXPECT_FALSE(without->retryable);

  TlsOptions with_cert;
  with_cert.cert_file = "/etc/x/client.pem";
  const auto rejected =
      tls_failure_of(CURLE_SSL_CONNECT_ERROR, 0,
                     "error:0A000418:SSL routines::tlsv1 alert unknown ca", with_cert, "h");
  ASSERT_TRUE(rejected);
  EXPECT_TRUE(rejected->cause.starts_with("client certificate rejected")) << rejected->cause;
  EXPECT_TRUE(has(rejected->cause, "/etc/x/client.pem")) << rejected->cause;
}

TEST(HttpTlsFailures, AReceiveErrorWithoutAnAlertIsNoTlsFailure) {
  EXPECT_FALSE(tls_failure_of(CURLE_RECV_ERROR, 0, "Connection reset by peer", TlsOptions{}, "h"));
  EXPECT_FALSE(tls_failure_of(CURLE_COULDNT_CONNECT, 0, "", TlsOptions{}, "h"));
  EXPECT_FALSE(tls_failure_of(CURLE_OPERATION_TIMEDOUT, 0, "", TlsOptions{}, "h"));
}

TEST(HttpTlsFailures, HandshakeFailuresSayWhichAndOnlyALostConnectionIsRetried) {
  const auto plain =
      tls_failure_of(CURLE_SSL_CONNECT_ERROR, 0,
                     "error:0A00010B:SSL routines::wrong version number", TlsOptions{}, "h");
  ASSERT_TRUE(plain);
  EXPECT_TRUE(has(plain->cause, "did not answer in TLS")) << plain->cause;
  EXPECT_FALSE(plain->retryable);

  const auto version =
      tls_failure_of(CURLE_SSL_CONNECT_ERROR, 0,
                     "error:0A000102:SSL routines::unsupported protocol", TlsOptions{}, "h");
  ASSERT_TRUE(version);
  EXPECT_TRUE(has(version->cause, "no TLS version in common")) << version->cause;

  const auto lost = tls_failure_of(
      CURLE_SSL_CONNECT_ERROR, 0,
      "OpenSSL SSL_connect: SSL_ERROR_SYSCALL in connection to 127.0.0.1:8443", TlsOptions{}, "h");
  ASSERT_TRUE(lost);
  EXPECT_TRUE(lost->retryable) << "a connection lost mid-handshake may work next time";

  const auto refused = tls_failure_of(CURLE_SSL_CONNECT_ERROR, 0,
                                      "error:0A000410:SSL routines::sslv3 alert handshake failure",
                                      TlsOptions{}, "h");
  ASSERT_TRUE(refused);
  EXPECT_TRUE(refused->cause.starts_with("handshake failure")) << refused->cause;
  EXPECT_FALSE(refused->retryable);
}

TEST(HttpTlsFailures, NginxsAnswerToAMissingClientCertificate) {
  const std::string page =
      "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>";
  const auto failure = tls_failure_in_response(400, page, TlsOptions{}, true);
  ASSERT_TRUE(failure);
  EXPECT_TRUE(failure->cause.starts_with("client certificate required")) << failure->cause;
  EXPECT_FALSE(tls_failure_in_response(400, "bad request", TlsOptions{}, true));
  EXPECT_FALSE(tls_failure_in_response(200, page, TlsOptions{}, true));
  EXPECT_FALSE(tls_failure_in_response(400, page, TlsOptions{}, false)) << "not over TLS";
}

}  // namespace
}  // namespace poolkit::http::detail
