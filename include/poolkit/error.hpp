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

// Whether a failed operation may have reached the server before the failure: `no` when nothing
// of it was written (a connect failure, a connection found closed before writing), `maybe` when
// some byte was (the connection was lost or timed out mid-command: the server may have run it).
// Only an operation that may not run twice needs to tell the two apart.
enum class Sent { no, maybe };

std::string_view to_string(ErrorCode code) noexcept;
std::string_view to_string(Backend backend) noexcept;

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, Backend backend, bool retryable, const std::string& message,
        Sent sent = Sent::no)
      : std::runtime_error(message),
        code_(code),
        backend_(backend),
        retryable_(retryable),
        sent_(sent) {}

  ErrorCode code() const noexcept { return code_; }
  Backend backend() const noexcept { return backend_; }
  bool retryable() const noexcept { return retryable_; }
  // For a transport failure (ConnectError, TimeoutError): some of the operation had been
  // written, so the server may have run it; repeat it only if running it twice is harmless.
  // False for the other errors, which say nothing about it.
  Sent sent() const noexcept { return sent_; }
  bool may_have_run() const noexcept { return sent_ == Sent::maybe; }

 private:
  ErrorCode code_;
  Backend backend_;
  bool retryable_;
  Sent sent_;
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

// Opening a connection failed (Sent::no), or an open one was lost: before anything of the
// operation was written (Sent::no), or after (Sent::maybe: "lost the connection ... while
// reading from it").
class ConnectError : public Error {
 public:
  ConnectError(Backend backend, const std::string& message, Sent sent = Sent::no)
      : Error(ErrorCode::connect, backend, true, message, sent) {}

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

// A read, write or connect took too long. Sent::maybe unless the thrower knows nothing of the
// operation was written (a connect timeout), since a command may have run and only its reply
// been late.
class TimeoutError : public Error {
 public:
  TimeoutError(Backend backend, const std::string& message, Sent sent = Sent::maybe)
      : Error(ErrorCode::timeout, backend, true, message, sent) {}
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
