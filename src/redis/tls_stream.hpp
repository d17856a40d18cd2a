#pragma once
// TLS for rediss://: OpenSSL over poolkit's own socket I/O. One TlsContext per client (its
// SSL_CTX: the trust store loaded once, the client certificate, the last session to resume);
// one TlsStream per connection. The bytes go through a BIO of our own that sends with
// MSG_NOSIGNAL | MSG_DONTWAIT and receives with MSG_DONTWAIT, so no write raises SIGPIPE and no
// read blocks: the connection waits with poll() against its own deadlines, as in plain text.

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "../core/openssl_ptr.hpp"

namespace poolkit::redis::detail {

// What the client was told about TLS, and where each value came from (for messages: a setting's
// name, or a URL query option).
struct TlsConfig {
  std::string ca_certs;  // file or directory of PEM certificates; empty: the system trust store
  std::string certfile;  // client certificate (mutual TLS); empty: none
  std::string keyfile;   // its key; empty: in certfile
  bool verify_peer = true;
  bool check_hostname = true;
  bool resume_sessions = true;
  std::string ca_certs_source;  // e.g. "REDIS_SSL_CA_CERTS" or "ssl_ca_certs in REDIS_URL"
  std::string certfile_source;
  std::string keyfile_source;
  std::string cert_reqs_source;
  std::string check_hostname_source;
};

using SessionPtr = poolkit::detail::SslSessionPtr;

// Shared by every connection of one client (thread-safe).
class TlsContext {
 public:
  // Builds the SSL_CTX: TLS 1.2 at least, the trust store and the client certificate loaded
  // once. Throws ConfigError naming the source of a file OpenSSL refuses.
  explicit TlsContext(TlsConfig config);
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  SSL_CTX* native() const noexcept { return context_.get(); }
  const BIO_METHOD* socket_bio() const noexcept { return socket_bio_.get(); }
  const TlsConfig& config() const noexcept { return config_; }

  // The last session a server handed out (a TLS 1.2 session, a TLS 1.3 ticket), to resume.
  SessionPtr last_session() const;
  void remember(SessionPtr session);

  void count_handshake(bool resumed) noexcept {
    (resumed ? resumed_ : full_).fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t full_handshakes() const noexcept { return full_.load(std::memory_order_relaxed); }
  std::uint64_t resumed_handshakes() const noexcept {
    return resumed_.load(std::memory_order_relaxed);
  }

 private:
  void load_files();

  TlsConfig config_;
  poolkit::detail::SslCtxPtr context_;
  poolkit::detail::BioMethodPtr socket_bio_;
  mutable std::mutex session_mutex_;
  SessionPtr session_;
  std::atomic<std::uint64_t> full_{0};
  std::atomic<std::uint64_t> resumed_{0};
};

// Why a TLS operation failed, in words.
struct TlsFailure {
  std::string cause;   // "unknown issuer: the server's certificate ..."
  std::string advice;  // "name the CA that signs it in REDIS_SSL_CA_CERTS"
  // A TLS-level refusal (certificate, alert, not TLS at all): TlsError, not retried. Otherwise
  // the connection was simply lost (reset, closed): ConnectError, retried as usual.
  bool tls_refusal = false;
  bool timed_out = false;
};

// The socket's side of the BIO: the descriptor and what went through it.
struct SocketIo {
  int fd = -1;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  int last_errno = 0;
};

// One TLS connection over a connected socket. Not movable (the BIO points into it).
class TlsStream {
 public:
  enum class Io { done, want_read, want_write, closed, failed };
  struct Result {
    Io io = Io::done;
    std::size_t bytes = 0;
  };

  TlsStream(std::shared_ptr<TlsContext> context, int fd, const std::string& host);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // The handshake, waiting with poll() until `deadline`. Throws TlsError (the server's
  // certificate or the handshake refused), TimeoutError or ConnectError; `address` (host:port)
  // names the server in the message.
  void handshake(std::chrono::steady_clock::time_point deadline, const std::string& address,
                 std::chrono::milliseconds connect_timeout);

  // One non-blocking step each.
  Result read(char* buffer, std::size_t size);
  Result write(const char* data, std::size_t size);

  // Decrypted bytes or received records OpenSSL holds that poll() cannot see.
  bool has_buffered() const noexcept;
  enum class Idle { quiet, data, closed };
  // Reads what arrived on an idle connection without consuming application data: tickets and
  // other TLS records are processed (quiet), a close_notify or an EOF is `closed`.
  Idle check_idle();

  // Words for the last failed read(), write() or handshake.
  TlsFailure failure() const;
  std::uint64_t bytes_sent() const noexcept { return io_.bytes_sent; }
  bool session_reused() const noexcept;
  SSL* native() const noexcept { return ssl_.get(); }

 private:
  Result classify(int returned);

  std::shared_ptr<TlsContext> context_;
  std::string host_;
  SocketIo io_;
  poolkit::detail::SslPtr ssl_;
  unsigned long last_error_ = 0;  // ERR_get_error() of the last failure
  int last_ssl_error_ = SSL_ERROR_NONE;
  bool in_handshake_ = true;

 public:
  // Called by OpenSSL when the server asks for a client certificate and none is configured.
  void note_certificate_requested() noexcept { certificate_requested_ = true; }

 private:
  // The server asked for a client certificate and got none: with TLS 1.3 it says no only after
  // the handshake, and its alert may be lost to a reset, so a lost connection then means this.
  bool certificate_requested_ = false;
};

// "host:port", with brackets around an IPv6 address: how TLS messages name the server.
std::string host_and_port(const std::string& host, int port);

}  // namespace poolkit::redis::detail
