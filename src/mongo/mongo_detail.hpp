#pragma once
// Internals of the MongoDB layer shared by its source files.

#include <mongoc/mongoc.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/mongo.hpp"
#include "poolkit/operation_stats.hpp"
#include "poolkit/settings.hpp"

namespace poolkit::mongo::detail {

// mongoc_init() on first use, mongoc_cleanup() at process exit, each exactly once. The static
// behind it is constructed inside the first Client's constructor, so it is destroyed after every
// Client with static storage duration. An owner that creates Clients lazily (Pools) must call it
// in its own constructor: a Client created after a static owner was constructed would otherwise
// outlive the cleanup.
void ensure_mongoc_initialized();

struct UriDeleter {
  void operator()(mongoc_uri_t* uri) const noexcept { mongoc_uri_destroy(uri); }
};
using UriPtr = std::unique_ptr<mongoc_uri_t, UriDeleter>;

struct BuiltUri {
  UriPtr uri;
  std::vector<std::string> warnings;  // free of secrets
};

// MONGODB_URL with every MONGODB_* variable applied; see docs/mongo.md "Settings". Throws
// ConfigError for waitQueueMultiple, an unset URL or a URI libmongoc refuses.
BuiltUri build_uri(const MongoSettings& settings);

// The TLS options of a URI, read back from libmongoc: what its clients really use.
struct UriTls {
  bool enabled = false;                     // tls=true / ssl=true, or mongodb+srv://
  std::string ca_file;                      // tlsCAFile; empty: the system trust store
  std::string certificate_key_file;         // tlsCertificateKeyFile; empty: no client certificate
  bool allow_invalid_certificates = false;  // tlsAllowInvalidCertificates or tlsInsecure
  bool allow_invalid_hostnames = false;     // tlsAllowInvalidHostnames or tlsInsecure
};
UriTls tls_options_of(const mongoc_uri_t* uri);

// Without tlsCAFile, libmongoc 1.23 loads OpenSSL's default trust store into a new SSL_CTX for
// every connection, and that parses the whole system bundle (about 25 ms of CPU here, per
// connection). OpenSSL's hashed CA directories hold the same CAs and are read lazily, one file
// per issuer. These are those directories ($SSL_CERT_DIR or OpenSSL's default) when TLS is on,
// no tlsCAFile is given, $SSL_CERT_FILE names no bundle but the system's, and the directories
// hold at least as many hashed CAs as the bundle; else empty (libmongoc's default stays).
std::string system_ca_directory(const UriTls& tls);
// Gives a client created from `uri` that directory as its trust store (nothing when empty).
void trust_system_ca_directory(mongoc_client_t* client, const mongoc_uri_t* uri, const UriTls& tls,
                               const std::string& directory);

// Why a TLS file the URI names (tlsCAFile, tlsCertificateKeyFile) cannot be used: "its
// tlsCAFile /path: no such file; ...", or empty. Checked before anything connects, since
// libmongoc itself would only log it and fail every connection with "connection error".
std::string uri_tls_file_problem(const mongoc_uri_t* uri);

// One warning per option that turns verification off (tlsInsecure, tlsAllowInvalidCertificates,
// tlsAllowInvalidHostnames): settings validation and every Client give them.
std::vector<std::string> uri_tls_warnings(const mongoc_uri_t* uri);

// A TLS failure found in a libmongoc error: the server (host:port, when the message names it),
// the cause in words and what to do. A certificate failure is not retryable.
struct TlsFailure {
  std::string server;
  std::string cause;
  std::string advice;
  bool retryable = false;
};
// nullopt when the error is not about TLS (or TLS is off).
std::optional<TlsFailure> tls_failure(const bson_error_t& error, const UriTls& tls);

// For a failed first hello that looks like TLS on one side only (a plaintext client at a TLS port,
// a TLS client at a plaintext port): "; ... add tls=true ..." to append to the message, or empty.
std::string tls_mismatch_hint(const bson_error_t& error, const UriTls& tls);

// Whether a new connection's first hello failed because the connection closed or was refused:
// what libmongoc says for a server that is down, and over TLS 1.3 for a client certificate the
// server refused.
bool is_closed_while_connecting(const bson_error_t& error);

// Over TLS, one connection of our own to each server of the URI, to hear the server's alert
// about the client's certificate (required, unknown CA, expired, ...); nullopt when no server
// objects or none can be reached within `timeout`.
std::optional<TlsFailure> ask_server_about_client_certificate(const mongoc_uri_t* uri,
                                                              const UriTls& tls,
                                                              std::chrono::milliseconds timeout);

// What kind of failure a libmongoc error is.
enum class Failure { connect, network, server, protocol, authentication };
Failure classify(const bson_error_t& error) noexcept;
inline bool is_network(Failure failure) noexcept {
  return failure == Failure::connect || failure == Failure::network;
}

// Where a failure happened, for its message.
struct ErrorContext {
  std::string_view address;  // the servers of MONGODB_URL, without the password
  std::chrono::milliseconds socket_timeout;
  const UriTls& tls;
};

// The poolkit error for a libmongoc failure of `what` (e.g. "command ping on admin"). A broken
// connection counts as a timeout when it failed after the socket timeout; a TLS failure is a
// TlsError "TLS to host:port failed: <cause>; <what to do>".
[[noreturn]] void throw_error(const bson_error_t& error, std::string_view what,
                              const ErrorContext& context, std::chrono::nanoseconds elapsed);

// A TlsError for `failure` of `what` (at its server, or else the context's address).
[[noreturn]] void throw_tls_error(const TlsFailure& failure, std::string_view what,
                                  const ErrorContext& context, const bson_error_t& error);

// The driver's APM callbacks feed this: commands by name and outcome, heartbeats, server and
// topology changes. It outlives every mongoc client that points at it (the connector owns it).
class Telemetry {
 public:
  Telemetry();
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // Sets the callbacks on a client before its first operation.
  void attach(mongoc_client_t* client);

  std::vector<OperationSnapshot> commands() const { return commands_.snapshot(); }
  MonitoringCounters monitoring() const noexcept;

 private:
  static void on_command_succeeded(const mongoc_apm_command_succeeded_t* event);
  static void on_command_failed(const mongoc_apm_command_failed_t* event);
  static void on_heartbeat_succeeded(const mongoc_apm_server_heartbeat_succeeded_t* event);
  static void on_heartbeat_failed(const mongoc_apm_server_heartbeat_failed_t* event);
  static void on_server_changed(const mongoc_apm_server_changed_t* event);
  static void on_topology_changed(const mongoc_apm_topology_changed_t* event);

  mongoc_apm_callbacks_t* callbacks_;
  OperationStats commands_;
  std::atomic<std::uint64_t> heartbeats_succeeded_{0};
  std::atomic<std::uint64_t> heartbeats_failed_{0};
  std::atomic<std::uint64_t> server_changes_{0};
  std::atomic<std::uint64_t> topology_changes_{0};
};

}  // namespace poolkit::mongo::detail
