// The per-connection half of TLS: the handshake under the connect deadline, non-blocking reads
// and writes, the idle check, and every failure in words.

#include "tls_stream.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "../core/tls_support.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::redis::detail {
namespace {

using Clock = std::chrono::steady_clock;

bool is_ip_literal(const std::string& host) {
  unsigned char address[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), address) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), address) == 1;
}

// Waits for the socket until `deadline`; false when it passed.
bool wait_socket(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return false;
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    pollfd descriptor{.fd = fd, .events = events, .revents = 0};
    const int ready = ::poll(&descriptor, 1, static_cast<int>(std::min<long long>(wait, 60'000)));
    if (ready != 0) return true;  // ready, or an error the next TLS call reports
  }
}

// "REDIS_SSL_CA_CERTS (/path)" or "the system trust store".
std::string trust_store_in_words(const TlsConfig& config) {
  if (config.ca_certs.empty()) {
    return fmt::format("the system trust store ({} is unset)", config.ca_certs_source);
  }
  return fmt::format("{} ({})", config.ca_certs_source, config.ca_certs);
}

TlsFailure certificate_failure(long result, const TlsConfig& config, const std::string& host) {
  const std::string words = poolkit::detail::verify_result_in_words(result);
  switch (result) {
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return {fmt::format("{}: the server's certificate is not signed by a CA in {}", words,
                          trust_store_in_words(config)),
              fmt::format("name the CA that signs it in {}", config.ca_certs_source), true};
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return {fmt::format("{}: the server's certificate is not for {}", words, host),
              fmt::format("connect with a name the certificate holds, or set {}=false (the "
                          "certificate is still verified)",
                          config.check_hostname_source),
              true};
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return {fmt::format("{}: the server's certificate is outside its validity dates", words),
              "renew the server's certificate (or check this machine's clock)", true};
    default:
      return {fmt::format("{}: the server's certificate was refused", words),
              fmt::format("check the server's certificate chain against {}",
                          trust_store_in_words(config)),
              true};
  }
}

bool is_client_certificate_alert(int reason) {
  switch (reason) {
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
      return true;
    default:
      return false;
  }
}

// A failure OpenSSL reported (SSL_ERROR_SSL), from the reason of its first queued error.
TlsFailure protocol_failure(unsigned long error, const TlsConfig& config) {
  const int reason = ERR_GET_REASON(error);
  const char* text = ERR_reason_error_string(error);
  const std::string openssl = text != nullptr ? text : "unknown OpenSSL error";
  const bool sent_certificate = !config.certfile.empty();
  const std::string client_files =
      fmt::format("set {} and {}",
                  config.certfile_source.empty() ? "a client certificate" : config.certfile_source,
                  config.keyfile_source.empty() ? "its key" : config.keyfile_source);
  if (reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED ||
      (!sent_certificate && is_client_certificate_alert(reason))) {
    return {fmt::format("the server requires a client certificate and none was sent ({})", openssl),
            client_files + " (mutual TLS)", true};
  }
  if (is_client_certificate_alert(reason)) {
    return {fmt::format("the server rejected the client certificate in {} ({}): {}",
                        config.certfile_source, config.certfile, openssl),
            "use a client certificate signed by a CA the server trusts (its tls-ca-cert-file)",
            true};
  }
  switch (reason) {
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_PACKET_LENGTH_TOO_LONG:
    case SSL_R_RECORD_LENGTH_MISMATCH:
    case SSL_R_UNEXPECTED_MESSAGE:
    case SSL_R_HTTPS_PROXY_REQUEST:
    case SSL_R_HTTP_REQUEST:
      return {fmt::format("the server did not answer in TLS ({})", openssl),
              "use redis:// for a plain-text port, or the port redis-server's tls-port names",
              true};
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
    case SSL_R_NO_PROTOCOLS_AVAILABLE:
    case SSL_R_VERSION_TOO_LOW:
      return {fmt::format("protocol mismatch: the server offers no TLS version from 1.2 up ({})",
                          openssl),
              "enable TLS 1.2 or 1.3 on the server", true};
    case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_CIPHERS_AVAILABLE:
      return {fmt::format("handshake failure: no cipher or protocol in common ({})", openssl),
              "check the server's tls-protocols and tls-ciphers", true};
    case SSL_R_UNEXPECTED_EOF_WHILE_READING:
      return {"the server closed the connection", "", false};
    default:
      return {fmt::format("handshake failure ({})", openssl),
              "check the server's TLS configuration", true};
  }
}

}  // namespace

std::string host_and_port(const std::string& host, int port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

TlsStream::TlsStream(std::shared_ptr<TlsContext> context, int fd, const std::string& host)
    : context_(std::move(context)), host_(host), ssl_(SSL_new(context_->native())) {
  if (!ssl_) throw std::bad_alloc();
  io_.fd = fd;
  BIO* bio = BIO_new(context_->socket_bio());
  if (bio == nullptr) throw std::bad_alloc();
  BIO_set_data(bio, &io_);
  SSL_set_ex_data(ssl_.get(), 0, this);  // for on_certificate_request
  SSL_set_bio(ssl_.get(), bio, bio);     // one reference: SSL_free frees it
  const TlsConfig& config = context_->config();
  const bool ip = is_ip_literal(host);
  if (!ip) {  // SNI names a host, never an IP (SSL_set_tlsext_host_name, without its C cast)
    SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
             const_cast<char*>(host_.c_str()));
  }
  if (config.verify_peer && config.check_hostname) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_.get());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                       : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (set != 1) throw std::bad_alloc();
  }
  if (SessionPtr session = context_->last_session()) SSL_set_session(ssl_.get(), session.get());
}

// A connection closed without a fatal error leaves its session resumable: OpenSSL marks a
// session "not resumable" when its connection is freed without a shutdown, and poolkit closes
// by dropping the socket (a close_notify would cost a write for nothing).
TlsStream::~TlsStream() {
  if (ssl_ && last_ssl_error_ != SSL_ERROR_SSL) {
    SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
}

void TlsStream::handshake(Clock::time_point deadline, const std::string& address,
                          std::chrono::milliseconds connect_timeout) {
  for (;;) {
    ERR_clear_error();
    const Result step = classify(SSL_connect(ssl_.get()));
    if (step.io == Io::done) break;
    const short events = step.io == Io::want_write ? POLLOUT : POLLIN;
    if ((step.io == Io::want_read || step.io == Io::want_write) &&
        wait_socket(io_.fd, events, deadline)) {
      continue;
    }
    TlsFailure why = failure();
    if (step.io == Io::want_read || step.io == Io::want_write) {
      // Not one byte back: a plain-text Redis waits for the end of a "command" that never
      // comes. A retry would wait as long again, so only a slow answer is worth another try.
      const bool silent = io_.bytes_received == 0;
      const std::string message = fmt::format(
          "TLS to {} failed: {} within {} ({} ms); {}raise {} if the server is only slow", address,
          silent ? "the server sent nothing back to the TLS handshake"
                 : "the handshake did not finish",
          setting::kRedisConnectTimeout, connect_timeout.count(),
          silent ? "check that the port is a TLS port (redis-server's tls-port; use redis:// "
                   "for a plain-text port), or "
                 : "",
          setting::kRedisConnectTimeout);
      if (silent) throw TlsError(Backend::redis, message);
      throw TimeoutError(Backend::redis, message, Sent::no);  // the handshake: no command yet
    }
    const std::string message = fmt::format("TLS to {} failed: {}{}{}", address, why.cause,
                                            why.advice.empty() ? "" : "; ", why.advice);
    if (why.tls_refusal) throw TlsError(Backend::redis, message);
    throw ConnectError(Backend::redis, message +
                                           " during the handshake; check that the port is "
                                           "a TLS port and the server accepts this client");
  }
  in_handshake_ = false;
  context_->count_handshake(session_reused());
}

TlsStream::Result TlsStream::classify(int returned) {
  if (returned > 0) return {Io::done, static_cast<std::size_t>(returned)};
  last_ssl_error_ = SSL_get_error(ssl_.get(), returned);
  switch (last_ssl_error_) {
    case SSL_ERROR_WANT_READ:
      return {Io::want_read, 0};
    case SSL_ERROR_WANT_WRITE:
      return {Io::want_write, 0};
    case SSL_ERROR_ZERO_RETURN:
      return {Io::closed, 0};
    case SSL_ERROR_SYSCALL:
      last_error_ = ERR_get_error();
      ERR_clear_error();  // nothing left behind for another library on this thread
      return {io_.last_errno == 0 && last_error_ == 0 ? Io::closed : Io::failed, 0};
    default:
      last_error_ = ERR_get_error();
      ERR_clear_error();
      if (ERR_GET_REASON(last_error_) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        return {Io::closed, 0};
      }
      return {Io::failed, 0};
  }
}

TlsStream::Result TlsStream::read(char* buffer, std::size_t size) {
  ERR_clear_error();
  io_.last_errno = 0;
  return classify(
      SSL_read(ssl_.get(), buffer,
               static_cast<int>(std::min<std::size_t>(size, std::numeric_limits<int>::max()))));
}

TlsStream::Result TlsStream::write(const char* data, std::size_t size) {
  ERR_clear_error();
  io_.last_errno = 0;
  return classify(
      SSL_write(ssl_.get(), data,
                static_cast<int>(std::min<std::size_t>(size, std::numeric_limits<int>::max()))));
}

bool TlsStream::has_buffered() const noexcept {
  return SSL_pending(ssl_.get()) > 0 || SSL_has_pending(ssl_.get()) == 1;
}

TlsStream::Idle TlsStream::check_idle() {
  char byte = 0;
  ERR_clear_error();
  io_.last_errno = 0;
  switch (classify(SSL_peek(ssl_.get(), &byte, 1)).io) {
    case Io::done:
      return Idle::data;
    case Io::want_read:
    case Io::want_write:
      return Idle::quiet;
    default:
      return Idle::closed;
  }
}

TlsFailure TlsStream::failure() const {
  const TlsConfig& config = context_->config();
  if (in_handshake_ && config.verify_peer) {
    const long verified = SSL_get_verify_result(ssl_.get());
    if (verified != X509_V_OK) return certificate_failure(verified, config, host_);
  }
  if (last_ssl_error_ == SSL_ERROR_SSL && last_error_ != 0) {
    return protocol_failure(last_error_, config);
  }
  if (certificate_requested_ && config.certfile.empty()) {
    return {
        "the server asked for a client certificate, none was sent, and it closed the "
        "connection: it requires one",
        fmt::format("set {} and {} (mutual TLS)", setting::kRedisSslCertfile,
                    setting::kRedisSslKeyfile),
        true};
  }
  if (io_.last_errno != 0) return {strerrordesc_np(io_.last_errno), "", false};
  if (last_ssl_error_ == SSL_ERROR_SYSCALL && last_error_ != 0) {
    return protocol_failure(last_error_, config);
  }
  return {"the server closed the connection", "", false};
}

bool TlsStream::session_reused() const noexcept {
  return SSL_session_reused(ssl_.get()) == 1;
}

}  // namespace poolkit::redis::detail
