#pragma once
// A minimal TLS client written straight on OpenSSL, independent of poolkit's own TLS code: the
// tests use it to prove what the TLS servers and the test CA are before poolkit meets them.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "local_servers/test_ca.hpp"

namespace poolkit::testing {

struct TlsProbe {
  std::filesystem::path ca_file;                     // trusted CA; verification is always on
  std::string expected_name = "127.0.0.1";           // checked as an IP address or a DNS name
  std::optional<poolkit::local::TlsFiles> client{};  // a client certificate to show
  std::string request{};                             // sent after the handshake
  std::string until{};                               // read until this appears (or 5 s, or EOF)
};

struct TlsProbeResult {
  bool handshake_ok = false;
  long verify_result = -1;  // X509_V_OK or an X509_V_ERR_*
  std::string reply;
};

inline TlsProbeResult tls_probe(int port, const TlsProbe& probe) {
  TlsProbeResult result;
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> context(SSL_CTX_new(TLS_client_method()),
                                                            SSL_CTX_free);
  SSL_CTX_load_verify_locations(context.get(), probe.ca_file.c_str(), nullptr);
  SSL_CTX_set_verify(context.get(), SSL_VERIFY_PEER, nullptr);
  if (probe.client) {
    SSL_CTX_use_certificate_file(context.get(), probe.client->cert.c_str(), SSL_FILETYPE_PEM);
    SSL_CTX_use_PrivateKey_file(context.get(), probe.client->key.c_str(), SSL_FILETYPE_PEM);
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return result;
  }
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(context.get()), SSL_free);
  SSL_set_fd(ssl.get(), fd);
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
  if (X509_VERIFY_PARAM_set1_ip_asc(param, probe.expected_name.c_str()) != 1)
    X509_VERIFY_PARAM_set1_host(param, probe.expected_name.c_str(), 0);
  result.handshake_ok = SSL_connect(ssl.get()) == 1;
  result.verify_result = SSL_get_verify_result(ssl.get());
  if (result.handshake_ok && !probe.request.empty() &&
      SSL_write(ssl.get(), probe.request.data(), static_cast<int>(probe.request.size())) > 0) {
    char buffer[4096];
    for (int got; result.reply.find(probe.until) == std::string::npos &&
                  (got = SSL_read(ssl.get(), buffer, sizeof buffer)) > 0;)
      result.reply.append(buffer, static_cast<std::size_t>(got));
  }
  ERR_clear_error();
  ssl.reset();
  ::close(fd);
  return result;
}

}  // namespace poolkit::testing
