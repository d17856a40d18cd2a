// The per-client half of TLS: the SSL_CTX (built once), the socket BIO, the session to resume.

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <cerrno>
#include <filesystem>
#include <utility>

#include "../core/tls_support.hpp"
#include "poolkit/error.hpp"
#include "tls_stream.hpp"

namespace poolkit::redis::detail {
namespace {

// --- The socket BIO: send/recv with our flags; "would block" is a retry, not an error --------

int socket_write(BIO* bio, const char* data, int size) {
  auto* io = static_cast<SocketIo*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n =
        ::send(io->fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      io->bytes_sent += static_cast<std::uint64_t>(n);
      return static_cast<int>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_write(bio);
    } else {
      io->last_errno = errno;
    }
    return -1;
  }
}

int socket_read(BIO* bio, char* buffer, int size) {
  auto* io = static_cast<SocketIo*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  for (;;) {
    const ssize_t n = ::recv(io->fd, buffer, static_cast<std::size_t>(size), MSG_DONTWAIT);
    if (n >= 0) {  // 0: the peer closed its side
      io->bytes_received += static_cast<std::uint64_t>(n);
      return static_cast<int>(n);
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      BIO_set_retry_read(bio);
    } else {
      io->last_errno = errno;
    }
    return -1;
  }
}

long socket_ctrl(BIO*, int command, long, void*) {
  return command == BIO_CTRL_FLUSH ? 1 : 0;  // nothing is buffered here
}

int socket_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

poolkit::detail::BioMethodPtr make_socket_bio() {
  poolkit::detail::BioMethodPtr method(
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "poolkit redis socket"));
  if (!method || BIO_meth_set_write(method.get(), socket_write) != 1 ||
      BIO_meth_set_read(method.get(), socket_read) != 1 ||
      BIO_meth_set_ctrl(method.get(), socket_ctrl) != 1 ||
      BIO_meth_set_create(method.get(), socket_create) != 1) {
    throw std::bad_alloc();
  }
  return method;
}

// --- Sessions: OpenSSL hands each new one here (TLS 1.3 tickets arrive after the handshake,
// with the first reply); the context keeps the last for the next connection. ------------------

int on_new_session(SSL* ssl, SSL_SESSION* session) {
  auto* context = static_cast<TlsContext*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), 0));
  if (context == nullptr || SSL_SESSION_is_resumable(session) != 1) return 0;
  context->remember(SessionPtr(session));
  return 1;  // the reference is ours now
}

// Only called when no client certificate is configured: remember that the server wanted one.
int on_certificate_request(SSL* ssl, X509**, EVP_PKEY**) {
  if (auto* stream = static_cast<TlsStream*>(SSL_get_ex_data(ssl, 0))) {
    stream->note_certificate_requested();
  }
  return 0;  // none to offer
}

std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return reason != nullptr ? reason : "OpenSSL refused it";
}

// OpenSSL fills a certificate's extension cache lazily, on its first verification, and reads
// it without a lock afterwards; connections opened at once would race on the trust store's CA
// certificates (ThreadSanitizer sees it). Filling every cache here, before any connection
// shares the context, leaves them read-only.
void fill_extension_caches(SSL_CTX* context) {
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(context));
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    if (X509* certificate = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objects, i))) {
      X509_check_purpose(certificate, -1, 0);
    }
  }
}

[[noreturn]] void refuse_file(std::string_view source, const std::string& path,
                              const std::string& problem) {
  throw ConfigError(fmt::format("{} ({}): {}; name a readable PEM file", source, path, problem));
}

}  // namespace

TlsContext::TlsContext(TlsConfig config)
    : config_(std::move(config)),
      context_(SSL_CTX_new(TLS_client_method())),
      socket_bio_(make_socket_bio()) {
  if (!context_) throw std::bad_alloc();
  SSL_CTX* context = context_.get();
  SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION);
  // Partial writes: the connection keeps its own position in what it sends.
  SSL_CTX_set_mode(context, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Whole socket reads instead of a header then a body: half the recv() calls per reply.
  SSL_CTX_set_read_ahead(context, 1);
  SSL_CTX_set_verify(context, config_.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_ex_data(context, 0, this);  // for on_new_session
  SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(context, on_new_session);
  SSL_CTX_set_client_cert_cb(context, on_certificate_request);
  load_files();
}

void TlsContext::load_files() {
  SSL_CTX* context = context_.get();
  ERR_clear_error();
  if (config_.ca_certs.empty()) {
    if (SSL_CTX_set_default_verify_paths(context) != 1) {
      throw ConfigError(
          fmt::format("the system trust store could not be loaded ({}); name a CA "
                      "file in {}",
                      openssl_reason(), config_.ca_certs_source));
    }
  } else {
    if (auto problem = poolkit::detail::ca_location_problem(config_.ca_certs)) {
      refuse_file(config_.ca_certs_source, config_.ca_certs, *problem);
    }
    const bool directory = std::filesystem::is_directory(config_.ca_certs);
    const char* file = directory ? nullptr : config_.ca_certs.c_str();
    const char* folder = directory ? config_.ca_certs.c_str() : nullptr;
    if (SSL_CTX_load_verify_locations(context, file, folder) != 1) {
      refuse_file(config_.ca_certs_source, config_.ca_certs, openssl_reason());
    }
  }
  fill_extension_caches(context);
  if (config_.certfile.empty()) return;
  const std::string& keyfile = config_.keyfile.empty() ? config_.certfile : config_.keyfile;
  const std::string& key_source =
      config_.keyfile.empty() ? config_.certfile_source : config_.keyfile_source;
  if (auto problem = poolkit::detail::certificate_file_problem(config_.certfile)) {
    refuse_file(config_.certfile_source, config_.certfile, *problem);
  }
  if (auto problem = poolkit::detail::private_key_file_problem(keyfile)) {
    refuse_file(key_source, keyfile, *problem);
  }
  if (auto problem = poolkit::detail::key_mismatch_problem(config_.certfile, keyfile)) {
    throw ConfigError(fmt::format("{} ({}) and {} ({}): {}", config_.certfile_source,
                                  config_.certfile, key_source, keyfile, *problem));
  }
  if (SSL_CTX_use_certificate_chain_file(context, config_.certfile.c_str()) != 1) {
    refuse_file(config_.certfile_source, config_.certfile, openssl_reason());
  }
  if (SSL_CTX_use_PrivateKey_file(context, keyfile.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(context) != 1) {
    refuse_file(key_source, keyfile, openssl_reason());
  }
}

SessionPtr TlsContext::last_session() const {
  const std::lock_guard lock(session_mutex_);
  if (!config_.resume_sessions || !session_ || SSL_SESSION_is_resumable(session_.get()) != 1) {
    return nullptr;
  }
  SSL_SESSION_up_ref(session_.get());
  return SessionPtr(session_.get());
}

void TlsContext::remember(SessionPtr session) {
  SessionPtr previous;  // freed outside the lock
  const std::lock_guard lock(session_mutex_);
  previous = std::exchange(session_, std::move(session));
}

}  // namespace poolkit::redis::detail
