#pragma once
// Where and how to connect: RedisSettings resolved once into what hiredis needs.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "connection_state.hpp"  // the connector resets a connection's bookkeeping
#include "poolkit/pool.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/settings.hpp"
#include "tls_stream.hpp"

namespace poolkit::redis::detail {

struct Endpoint {
  std::string host;  // empty for a unix socket
  int port = 6379;
  std::string socket_path;  // unix:// only
  std::string username;     // empty: AUTH with the password alone (the default user)
  std::optional<std::string> password;
  int database = 0;
  std::string client_name;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds socket_timeout{2000};       // the deadline of one round trip
  std::size_t max_reply_bytes = std::size_t{64} << 20;  // REDIS_MAX_REPLY_BYTES
  std::string address;                                  // redacted URL, for messages
  std::shared_ptr<TlsContext> tls;                      // rediss:// only; shared by connections

  bool is_unix() const noexcept { return !socket_path.empty(); }
};

// Throws ConfigError (missing URL, a URL detail::redis_url_problem refuses, a TLS file OpenSSL
// refuses). For rediss:// builds the client's one TLS context.
Endpoint make_endpoint(const RedisSettings& settings, bool resume_tls_sessions = true);

// What TLS the client uses: the REDIS_SSL_* settings, with the URL's ssl_* options winning.
TlsConfig tls_config_of(const RedisSettings& settings, const Url& url);

// Connects, sets the socket timeout and keepalive, does the TLS handshake (rediss://; the
// connect timeout bounds the TCP connect and the handshake together), then AUTH, SELECT and
// CLIENT SETNAME. Throws ConnectError, TlsError, TimeoutError or ServerError (e.g. wrong
// password).
Connection open_connection(const std::shared_ptr<const Endpoint>& endpoint, Deadline deadline);

// The connector the generic pool drives.
struct Connector {
  using Connection = redis::Connection;
  std::shared_ptr<const Endpoint> endpoint;

  Connection open(Deadline deadline) { return open_connection(endpoint, deadline); }
  bool check(Connection& connection, Deadline deadline);
  void close(Connection& connection) noexcept;
};

}  // namespace poolkit::redis::detail
