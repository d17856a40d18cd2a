#pragma once
// The MongoDB layer: poolkit's pool over single-threaded libmongoc clients.
//
//   poolkit::mongo::Client mongo("mongodb://db/app", {.max_pool_size = 20});
//   // or: poolkit::mongo::Client mongo(settings.mongo);
//   mongo.with_collection("app", "snippets", [&](mongoc_collection_t* c, bson_error_t& e) {
//     return mongoc_collection_insert_one(c, doc, nullptr, nullptr, &e);
//   });                                          // a network error marks the connection broken
//   {
//     auto lease = mongo.checkout();             // waits FIFO, PoolTimeoutError past the wait
//     mongoc_collection_t* c = mongoc_client_get_collection(*lease, "app", "snippets");
//     ...                                        // any libmongoc call, on this thread
//   }                                            // the client goes back to the pool
//   auto reply = mongo.run_command_json("admin", R"({"ping": 1})");
//
// Each pooled connection is one mongoc_client_t created with mongoc_client_new_from_uri: it owns
// one socket per server and monitors on that same socket, and destroying it closes the socket.
// So the server sees exactly the pool's connections, idle ones are really closed after
// MONGODB_MAX_IDLE_TIME_MS, and MONGODB_MIN_POOL_SIZE connections are open before the first
// request. mongoc_client_pool_t cannot do that: it keeps every client it ever created and their
// sockets, ignores maxIdleTimeMS and returns NULL silently when its wait times out.

#include <mongoc/mongoc.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "poolkit/metrics.hpp"
#include "poolkit/operation_stats.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/pool_stats.hpp"
#include "poolkit/settings.hpp"

namespace poolkit::mongo {

// An owned BSON document.
class Document {
 public:
  Document();  // {}
  // Takes ownership of a heap bson_t (from bson_new, bson_copy, ...).
  explicit Document(bson_t* owned) noexcept;
  Document(Document&& other) noexcept;
  Document& operator=(Document&& other) noexcept;
  Document(const Document& other);
  Document& operator=(const Document& other);
  ~Document();

  // Parses extended JSON (canonical or relaxed); throws ProtocolError naming the position.
  static Document from_json(std::string_view json);
  static Document copy_of(const bson_t& document);

  const bson_t* get() const noexcept { return bson_; }
  bson_t* get() noexcept { return bson_; }
  operator const bson_t*() const noexcept { return bson_; }  // NOLINT: for C calls

  std::string to_json() const;            // relaxed extended JSON
  std::string to_canonical_json() const;  // canonical extended JSON

  bool has(std::string_view dotted_key) const;
  // Numbers of any BSON numeric type; nullopt when absent or not a number.
  std::optional<double> number(std::string_view dotted_key) const;
  std::optional<std::string> string(std::string_view dotted_key) const;

 private:
  // Owned; not a unique_ptr because bson_t's alignment attribute is lost in a template argument.
  bson_t* bson_;
};

// One pooled connection: a single-threaded libmongoc client. Converts to mongoc_client_t*, so
// `*lease` goes straight into libmongoc calls. Use it from one thread at a time.
class Connection {
 public:
  explicit Connection(mongoc_client_t* owned) noexcept : client_(owned) {}
  mongoc_client_t* get() const noexcept { return client_.get(); }
  operator mongoc_client_t*() const noexcept { return client_.get(); }  // NOLINT: for C calls

 private:
  struct Destroy {
    void operator()(mongoc_client_t* c) const noexcept { mongoc_client_destroy(c); }
  };
  std::unique_ptr<mongoc_client_t, Destroy> client_;
};

using Lease = poolkit::Lease<Connection>;

// A collection handle on a leased client, destroyed with this object (before the lease goes).
class Collection {
 public:
  Collection(mongoc_client_t* client, const std::string& db, const std::string& name)
      : collection_(mongoc_client_get_collection(client, db.c_str(), name.c_str())) {}
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;
  ~Collection() { mongoc_collection_destroy(collection_); }
  mongoc_collection_t* get() const noexcept { return collection_; }
  operator mongoc_collection_t*() const noexcept { return collection_; }  // NOLINT: for C calls

 private:
  mongoc_collection_t* collection_;
};

// Everything a client can be told besides its URL. The first group mirrors MongoSettings, with
// the settings table's defaults (docs/configuration.md); the rest has no variable.
struct Options {
  std::size_t max_pool_size = 100;                           // MONGODB_MAX_POOL_SIZE
  std::size_t min_pool_size = 5;                             // MONGODB_MIN_POOL_SIZE
  std::chrono::milliseconds wait_queue_timeout{5000};        // MONGODB_WAIT_QUEUE_TIMEOUT_MS
  std::chrono::milliseconds max_idle_time{30'000};           // MONGODB_MAX_IDLE_TIME_MS
  std::chrono::milliseconds server_selection_timeout{3000};  // MONGODB_SERVER_SELECTION_TIMEOUT_MS
  std::chrono::milliseconds socket_timeout{20'000};          // MONGODB_SOCKET_TIMEOUT_MS
  std::chrono::milliseconds connect_timeout{10'000};         // MONGODB_CONNECT_TIMEOUT_MS
  std::chrono::milliseconds heartbeat_frequency{10'000};     // MONGODB_HEARTBEAT_FREQUENCY_MS
  std::optional<std::string> appname{};                      // MONGODB_APPNAME
  std::vector<std::string> compressors{};                    // MONGODB_COMPRESSORS

  // Names the pool in stats, events and errors.
  std::string name = "mongo";
  // Receives the pool's CMAP events.
  std::shared_ptr<PoolListener> listener{};
  // Called once per configuration warning (a URL option overridden by a variable, ...), in
  // addition to warnings(). The text never holds a secret.
  std::function<void(const std::string&)> on_warning{};
  // Period of the pool's maintenance (idle closing, warm minimum, leak reports); tests shorten
  // it.
  std::chrono::milliseconds background_interval{1000};
  // A lease held longer than this is reported once to the listener as lease_leaked and counted
  // in stats().pool.leaks_detected; 0 = off.
  std::chrono::milliseconds leak_threshold{0};

  // `rest` (or the defaults) with every field MongoSettings holds taken from `settings` (the
  // URL aside).
  static Options from(const MongoSettings& settings, Options rest);
  static Options from(const MongoSettings& settings);
};
using ClientOptions = Options;  // the earlier name

struct PingResult {
  std::chrono::nanoseconds latency{0};  // the ping's round trip, without the pool wait
  Document reply;
};

// connPoolStats, where the server has it. FerretDB and some managed services refuse it:
// `supported` is then false and `unsupported_reason` holds the server's answer.
struct ConnPoolStatsResult {
  bool supported = false;
  std::string unsupported_reason;
  Document reply;
};

// The driver's monitoring, as seen through its APM callbacks.
struct MonitoringCounters {
  std::uint64_t heartbeats_succeeded = 0;
  std::uint64_t heartbeats_failed = 0;
  std::uint64_t server_description_changes = 0;
  std::uint64_t topology_changes = 0;
};

struct MongoStats {
  PoolStats pool;
  // Commands by name and outcome ("ok", "server_error", "network_error") with durations.
  std::vector<OperationSnapshot> commands;
  MonitoringCounters monitoring;
};

// Adds the stats to a metrics snapshot, labelled layer="mongo": poolkit_pool_*,
// poolkit_operations_total / poolkit_operation_duration_seconds (kind "command"),
// poolkit_mongo_heartbeats_total{outcome="ok"|"failed"},
// poolkit_mongo_server_description_changes_total, poolkit_mongo_topology_changes_total.
void add_metrics(MetricsSnapshot& snapshot, const MongoStats& stats);

class Client {
 public:
  // mongodb://[user:password@]host[:port],.../db?options (or mongodb+srv://). Throws
  // ConfigError, with the message MONGODB_URL would earn, when the URL is refused, or when
  // libmongoc rejects the resulting URI. Options override the same options in the URL, with a
  // warning (see warnings()). The pool starts at once and opens min_pool_size connections in
  // the background.
  explicit Client(std::string_view url, Options options = {});
  // From the settings: MONGODB_URL (ConfigError when unset) and every MONGODB_* variable;
  // `options` gives what they don't cover (name, listener, on_warning, ...).
  explicit Client(const MongoSettings& settings, Options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // A connection for this thread, waiting up to MONGODB_WAIT_QUEUE_TIMEOUT_MS (or `timeout`).
  // Throws PoolTimeoutError, PoolClosedError, PoolClearedError, or ConnectError/TimeoutError
  // when a new connection could not be opened. Mark the lease broken after a network error
  // in your own libmongoc calls; the helpers below do it themselves.
  Lease checkout();
  Lease checkout(std::chrono::milliseconds timeout);

  // Runs a command on database `db`. Throws ServerError for {ok: 0} replies (with the server's
  // code and message), ConnectError or TimeoutError for network failures.
  Document run_command(std::string_view db, const bson_t& command);
  Document run_command(Lease& lease, std::string_view db, const bson_t& command);
  // The same with extended JSON in and relaxed extended JSON out.
  std::string run_command_json(std::string_view db, std::string_view command_json);

  PingResult ping();
  Document server_status();
  ConnPoolStatsResult conn_pool_stats();

  // Runs fn(mongoc_collection_t*, bson_error_t&) -> bool, libmongoc calls on collection
  // db.collection of a leased connection (`lease`, or one leased for the call). fn returns
  // false when a call failed and filled the error, as libmongoc's functions do: the error is
  // then thrown as the poolkit error (see raise(); `operation` names what failed, e.g.
  // "insert"), and after a network error the connection is first marked broken, so it is
  // closed rather than reused.
  template <class Fn>
  void with_collection(Lease& lease, std::string_view db, std::string_view collection, Fn&& fn,
                       std::string_view operation = "operation") {
    const Collection handle(*lease, std::string(db), std::string(collection));
    bson_error_t error{};
    const auto started = std::chrono::steady_clock::now();
    if (fn(handle.get(), error)) return;
    fail(lease, error, operation, db, collection, std::chrono::steady_clock::now() - started);
  }
  template <class Fn>
  void with_collection(std::string_view db, std::string_view collection, Fn&& fn,
                       std::string_view operation = "operation") {
    Lease lease = checkout();
    with_collection(lease, db, collection, std::forward<Fn>(fn), operation);
  }

  // For your own libmongoc calls on a lease: throws the poolkit error for a libmongoc failure of
  // `operation` (e.g. "find on app.snippets"): ServerError, ConnectError, TimeoutError (a lost
  // connection after at least MONGODB_SOCKET_TIMEOUT_MS of `elapsed`), ProtocolError. After a
  // network error, mark the lease broken (is_network_error).
  [[noreturn]] void raise(const bson_error_t& error, std::string_view operation,
                          std::chrono::nanoseconds elapsed = {}) const;
  static bool is_network_error(const bson_error_t& error) noexcept;

  MongoStats stats() const;
  // The pool's part alone: cheaper, for frequent sampling.
  PoolStats pool_stats() const;
  // Configuration warnings found while building the URI (never a secret).
  const std::vector<std::string>& warnings() const noexcept;
  // The server address(es) with the password masked, for logs.
  const std::string& address() const noexcept;

  // Makes every pooled connection stale (closed when idle or returned).
  void clear();
  // Idempotent: idle connections close now, leases still out close when they come back.
  void close();

 private:
  // with_collection()'s failure: marks the lease broken after a network error, then raises.
  [[noreturn]] void fail(Lease& lease, const bson_error_t& error, std::string_view operation,
                         std::string_view db, std::string_view collection,
                         std::chrono::nanoseconds elapsed) const;

  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace poolkit::mongo
