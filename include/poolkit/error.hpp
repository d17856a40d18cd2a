#pragma once
// One error hierarchy for every layer. Each error has a stable code, the backend it came
// from, and whether retrying the same operation may succeed. Messages say what happened,
// to what, and what to change; they never contain a secret.

#include <stdexcept>
#include <string>
#include <string_view>

namespace poolkit {

enum class ErrorCode {
  config,        // a setting is missing or invalid
  pool_timeout,  // no connection became free within the wait-queue timeout
  pool_closed,   // the pool was closed
  pool_cleared,  // the pool was cleared (or is paused) while the caller waited
  connect,       // opening a connection failed
  tls,           // the TLS handshake failed: certificate, name, client certificate, protocol
  timeout,       // a read, write or whole request took too long
  protocol,      // the peer sent something that does not parse
  server,        // the server answered with an error
  circuit_open,  // the circuit breaker for that host is open
};

enum class Backend { core, redis, mongo, http };

std::string_view to_string(ErrorCode code) noexcept;
std::string_view to_string(Backend backend) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, Backend backend, bool retryable, const std::string& message)
      : std::runtime_error(message), code_(code), backend_(backend), retryable_(retryable) {}

  ErrorCode code() const noexcept { return code_; }
  Backend backend() const noexcept { return backend_; }
  bool retryable() const noexcept { return retryable_; }

 private:
  ErrorCode code_;
  Backend backend_;
  bool retryable_;
};

class ConfigError : public Error {
 public:
  explicit ConfigError(const std::string& message)
      : Error(ErrorCode::config, Backend::core, false, message) {}
};

class PoolTimeoutError : public Error {
 public:
  PoolTimeoutError(Backend backend, const std::string& message)
      : Error(ErrorCode::pool_timeout, backend, true, message) {}
};

class PoolClosedError : public Error {
 public:
  PoolClosedError(Backend backend, const std::string& message)
      : Error(ErrorCode::pool_closed, backend, false, message) {}
};

class PoolClearedError : public Error {
 public:
  PoolClearedError(Backend backend, const std::string& message)
      : Error(ErrorCode::pool_cleared, backend, true, message) {}
};

class ConnectError : public Error {
 public:
  ConnectError(Backend backend, const std::string& message)
      : Error(ErrorCode::connect, backend, true, message) {}

 protected:
  ConnectError(ErrorCode code, Backend backend, bool retryable, const std::string& message)
      : Error(code, backend, retryable, message) {}
};

// A connect failure of its own kind: a certificate the client refuses (unknown issuer, wrong
// name, expired), a client certificate the server requires or rejects, a handshake the two sides
// cannot agree on. Not retryable by default: the next attempt meets the same certificate.
class TlsError : public ConnectError {
 public:
  TlsError(Backend backend, const std::string& message, bool retryable = false)
      : ConnectError(ErrorCode::tls, backend, retryable, message) {}
};

class TimeoutError : public Error {
 public:
  TimeoutError(Backend backend, const std::string& message)
      : Error(ErrorCode::timeout, backend, true, message) {}
};

class ProtocolError : public Error {
 public:
  ProtocolError(Backend backend, const std::string& message)
      : Error(ErrorCode::protocol, backend, false, message) {}
};

class ServerError : public Error {
 public:
  ServerError(Backend backend, const std::string& message, bool retryable = false)
      : Error(ErrorCode::server, backend, retryable, message) {}
};

class CircuitOpenError : public Error {
 public:
  CircuitOpenError(Backend backend, const std::string& message)
      : Error(ErrorCode::circuit_open, backend, true, message) {}
};

}  // namespace poolkit
