// What a server thinks of this client's certificate, asked with one TLS connection of our own.
//
// With TLS 1.3 the server judges the client's certificate after the client considers the
// handshake done, so libmongoc only sees the connection close ("connection closed" or "Failed to
// receive length header from server", the same words as for a refused connection). The server's
// alert says why (certificate required, unknown CA, bad certificate, expired); OpenSSL reads it
// when we wait for the first bytes after the handshake.

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <utility>

#include "../core/openssl_ptr.hpp"
#include "mongo_detail.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::mongo::detail {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* info) const noexcept { freeaddrinfo(info); }
};

class Socket {
 public:
  explicit Socket(int fd) noexcept : fd_(fd) {}
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// A blocking TCP socket connected within `timeout`, whose reads and writes time out too; -1
// when the server cannot be reached (then there is no TLS verdict to ask for).
int connect_within(const addrinfo& address, std::chrono::milliseconds timeout) {
  const int fd =
      ::socket(address.ai_family, address.ai_socktype | SOCK_CLOEXEC, address.ai_protocol);
  if (fd < 0) return -1;
  Socket socket(fd);
  const int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd, address.ai_addr, address.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return -1;
    pollfd waiting{.fd = fd, .events = POLLOUT, .revents = 0};
    int error = 0;
    socklen_t length = sizeof error;
    if (::poll(&waiting, 1, static_cast<int>(timeout.count())) != 1 ||
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
      return -1;
    }
  }
  ::fcntl(fd, F_SETFL, flags);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  timeval limit{
      .tv_sec = seconds.count(),
      .tv_usec = static_cast<suseconds_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(timeout - seconds).count())};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  return socket.release();
}

// The client side as libmongoc would set it up: the client's certificate and key if given. The
// server's certificate is not judged here: libmongoc reports those failures itself.
poolkit::detail::SslCtxPtr client_context(const mongoc_uri_t* uri, const UriTls& tls) {
  poolkit::detail::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return nullptr;
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  if (tls.certificate_key_file.empty()) return ctx;
  // OpenSSL copies nothing: the password stays in the URI, which outlives the context.
  const char* password =
      mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD, nullptr);
  if (password != nullptr) {
    SSL_CTX_set_default_passwd_cb_userdata(ctx.get(), const_cast<char*>(password));
  }
  const char* file = tls.certificate_key_file.c_str();
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), file) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), file, SSL_FILETYPE_PEM) != 1) {
    return nullptr;  // uri_tls_file_problem says why, before anything connects
  }
  return ctx;
}

// The server's alert in words, with what to do; nullopt for anything else.
std::optional<TlsFailure> failure_for_alert(unsigned long reason, const UriTls& tls) {
  const std::string option = fmt::format("{}'s tlsCertificateKeyFile", setting::kMongodbUrl);
  const bool has_certificate = !tls.certificate_key_file.empty();
  const std::string given =
      has_certificate ? fmt::format("the client's certificate ({})", tls.certificate_key_file)
                      : std::string("the client's certificate");
  switch (reason) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return TlsFailure{
          {},
          "client certificate required: the server accepts only clients with a "
          "certificate it trusts (mutual TLS)",
          fmt::format("name the client's certificate and key (one PEM file) in {}", option)};
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      if (!has_certificate) {
        return TlsFailure{
            {},
            "client certificate required: the server closed the connection "
            "because the client gave none (mutual TLS)",
            fmt::format("name the client's certificate and key (one PEM file) in {}", option)};
      }
      return TlsFailure{
          {},
          fmt::format("client certificate rejected: the server does not trust {}", given),
          fmt::format("name in {} a certificate signed by a CA the server trusts", option)};
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
      return TlsFailure{{},
                        fmt::format("client certificate rejected: {} has expired", given),
                        fmt::format("renew it, or name a valid one in {}", option)};
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
      return TlsFailure{{},
                        fmt::format("client certificate rejected: {} is revoked", given),
                        fmt::format("name a valid one in {}", option)};
    default:
      return std::nullopt;
  }
}

std::optional<TlsFailure> ask_server(const addrinfo& address, const std::string& host, SSL_CTX* ctx,
                                     const UriTls& tls, std::chrono::milliseconds timeout) {
  const Socket socket(connect_within(address, timeout));
  if (socket.get() < 0) return std::nullopt;
  poolkit::detail::SslPtr ssl(SSL_new(ctx));
  if (!ssl) return std::nullopt;
  SSL_set_fd(ssl.get(), socket.get());
  in6_addr ignored{};
  const bool is_address = ::inet_pton(AF_INET, host.c_str(), &ignored) == 1 ||
                          ::inet_pton(AF_INET6, host.c_str(), &ignored) == 1;
  if (!is_address) {  // SNI names hosts only; SSL_set_tlsext_host_name's macro casts old-style
    SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host.c_str()));
  }
  ERR_clear_error();
  if (SSL_connect(ssl.get()) == 1) {
    // The verdict on our certificate comes as the first record after the handshake. A server
    // that is content sends nothing until asked: the read times out.
    char byte = 0;
    if (SSL_read(ssl.get(), &byte, 1) > 0) return std::nullopt;
  }
  const unsigned long error = ERR_peek_last_error();
  ERR_clear_error();
  if (error == 0 || ERR_GET_LIB(error) != ERR_LIB_SSL) return std::nullopt;
  return failure_for_alert(ERR_GET_REASON(error), tls);
}

}  // namespace

std::optional<TlsFailure> ask_server_about_client_certificate(const mongoc_uri_t* uri,
                                                              const UriTls& tls,
                                                              std::chrono::milliseconds timeout) {
  const auto ctx = client_context(uri, tls);
  if (!ctx) return std::nullopt;
  for (const mongoc_host_list_t* host = mongoc_uri_get_hosts(uri); host != nullptr;
       host = host->next) {
    if (host->family == AF_UNIX) continue;
    const addrinfo hints{.ai_flags = 0,
                         .ai_family = AF_UNSPEC,
                         .ai_socktype = SOCK_STREAM,
                         .ai_protocol = 0,
                         .ai_addrlen = 0,
                         .ai_addr = nullptr,
                         .ai_canonname = nullptr,
                         .ai_next = nullptr};
    addrinfo* found = nullptr;
    if (::getaddrinfo(host->host, std::to_string(host->port).c_str(), &hints, &found) != 0) {
      continue;
    }
    const std::unique_ptr<addrinfo, AddrInfoDeleter> addresses(found);
    if (auto failure = ask_server(*addresses, host->host, ctx.get(), tls, timeout)) {
      failure->server = host->host_and_port;
      return failure;
    }
  }
  return std::nullopt;
}

}  // namespace poolkit::mongo::detail
