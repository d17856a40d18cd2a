#pragma once
// Internals of the MongoDB layer shared by its source files.

#include <mongoc/mongoc.h>

#include <atomic>
#include <chrono>
#include <memory>
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

// What kind of failure a libmongoc error is.
enum class Failure { connect, network, server, protocol, authentication };
Failure classify(const bson_error_t& error) noexcept;
inline bool is_network(Failure failure) noexcept {
  return failure == Failure::connect || failure == Failure::network;
}

// The poolkit error for a libmongoc failure of `what` (e.g. "command ping on admin") against
// `address`. A broken connection counts as a timeout when it failed after `socket_timeout`.
[[noreturn]] void throw_error(const bson_error_t& error, std::string_view what,
                              std::string_view address, std::chrono::nanoseconds elapsed,
                              std::chrono::milliseconds socket_timeout);

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
