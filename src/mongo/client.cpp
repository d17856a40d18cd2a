// mongo::Client: poolkit's pool over single-threaded mongoc_client_t's.
//
// Why not mongoc_client_pool_t: it keeps every client it ever created (and its sockets) until
// the pool is destroyed, so MONGODB_MAX_IDLE_TIME_MS could not close anything and the server
// would see the high-water mark forever; its minPoolSize means "idle clients kept on push", not
// a warm minimum; its wait is unordered and returns NULL without saying why. A single-threaded
// client owns one socket per server and does its monitoring on that same socket, so the pool's
// count is exactly what the server sees, and destroying the client really closes it. The cost
// is that each client monitors its own socket (a hello every heartbeatFrequencyMS while it is
// in use); docs/benchmarks.md measures the difference against mongoc_client_pool_t.

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>

#include "../core/settings_detail.hpp"
#include "../core/settings_url.hpp"
#include "../core/shared_fields.hpp"
#include "mongo_detail.hpp"
#include "poolkit/error.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::mongo {
namespace detail {

namespace {

class MongocLibrary {
 public:
  MongocLibrary() { mongoc_init(); }
  ~MongocLibrary() { mongoc_cleanup(); }
  MongocLibrary(const MongocLibrary&) = delete;
  MongocLibrary& operator=(const MongocLibrary&) = delete;
};

}  // namespace

void ensure_mongoc_initialized() {
  static const MongocLibrary library;
}

}  // namespace detail

namespace {

using Clock = std::chrono::steady_clock;

// What every connection of one Client shares: the URI it is created from and the telemetry its
// APM callbacks feed. Owned by the connector, which the pool keeps until its last connection is
// closed, so the callbacks' context never dangles.
struct Shared {
  Shared(detail::UriPtr built_uri, std::string server_address,
         std::chrono::milliseconds socket_timeout_ms, std::chrono::milliseconds connect_timeout_ms)
      : uri(std::move(built_uri)),
        address(std::move(server_address)),
        socket_timeout(socket_timeout_ms),
        connect_timeout(connect_timeout_ms),
        tls(detail::tls_options_of(uri.get())),
        system_ca_directory(detail::system_ca_directory(tls)),
        first_scan_uri(tls.enabled ? try_once(uri.get()) : nullptr) {}

  // A copy of `source` whose server selection gives up after one scan.
  static detail::UriPtr try_once(const mongoc_uri_t* source) {
    detail::UriPtr copy(mongoc_uri_copy(source));
    mongoc_uri_set_option_as_bool(copy.get(), MONGOC_URI_SERVERSELECTIONTRYONCE, true);
    return copy;
  }

  detail::ErrorContext error_context() const {
    return {.address = address, .socket_timeout = socket_timeout, .tls = tls};
  }

  detail::UriPtr uri;
  std::string address;
  std::chrono::milliseconds socket_timeout;
  std::chrono::milliseconds connect_timeout;
  detail::UriTls tls;
  std::string system_ca_directory;  // see detail::system_ca_directory
  // Over TLS, until a connection has opened once: for a first scan that reports a certificate
  // failure at once, where the pooled clients' server selection would retry it for up to
  // serverSelectionTimeoutMS.
  detail::UriPtr first_scan_uri;
  std::atomic<bool> opened_once{false};
  detail::Telemetry telemetry;
};

// {name: 1}
Document simple_command(const char* name) {
  return Document(BCON_NEW(name, BCON_INT32(1)));
}

std::string command_name(const bson_t& command) {
  bson_iter_t first;
  if (bson_iter_init(&first, &command) && bson_iter_next(&first)) return bson_iter_key(&first);
  return "(empty)";
}

Document command_or_throw(mongoc_client_t* client, const Shared& shared, std::string_view db,
                          const bson_t& command, bool& network_failure) {
  const std::string db_name(db);
  bson_t reply;
  bson_error_t error;
  const auto started = Clock::now();
  const bool ok =
      mongoc_client_command_simple(client, db_name.c_str(), &command, nullptr, &reply, &error);
  Document result = Document::copy_of(reply);
  bson_destroy(&reply);
  if (!ok) {
    network_failure = detail::is_network(detail::classify(error));
    detail::throw_error(error, fmt::format("command {} on {}", command_name(command), db),
                        shared.error_context(), Clock::now() - started);
  }
  return result;
}

class Connector {
 public:
  using Connection = mongo::Connection;

  explicit Connector(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  // Creates the client and runs a ping, so the connection (handshake included) exists at the
  // server before it counts as open: that is what makes the warm minimum warm.
  Connection open(Deadline) {
    if (shared_->first_scan_uri && !shared_->opened_once) throw_if_tls_fails_at_once();
    bson_error_t error;
    Connection connection(mongoc_client_new_from_uri_with_error(shared_->uri.get(), &error));
    if (connection.get() == nullptr) {
      throw ConnectError(Backend::mongo,
                         fmt::format("libmongoc could not create a client for {}: {}",
                                     shared_->address, error.message));
    }
    mongoc_client_set_error_api(connection, MONGOC_ERROR_API_VERSION_2);
    detail::trust_system_ca_directory(connection, shared_->uri.get(), shared_->tls,
                                      shared_->system_ca_directory);
    shared_->telemetry.attach(connection);
    bool network_failure = false;
    command_or_throw(connection, *shared_, "admin", *simple_command("ping").get(), network_failure);
    shared_->opened_once = true;
    return connection;
  }

  // libmongoc already checks its socket before use (a poll for a close after 1 s idle, a round
  // trip after socketCheckIntervalMS, 5 s) and reconnects if it is dead; a ping of our own here
  // would double that cost.
  bool check(Connection&, Deadline) { return true; }

  // Destroying the client (Connection's destructor) closes its socket.
  void close(Connection&) noexcept {}

 private:
  // One scan with a throw-away client: a certificate the server will keep presenting fails now,
  // with its cause. Anything else (the server not up yet, ...) is left to the pooled client,
  // which waits for the server as configured.
  void throw_if_tls_fails_at_once() {
    bson_error_t error;
    Connection probe(mongoc_client_new_from_uri_with_error(shared_->first_scan_uri.get(), &error));
    if (probe.get() == nullptr) return;
    mongoc_client_set_error_api(probe, MONGOC_ERROR_API_VERSION_2);
    detail::trust_system_ca_directory(probe, shared_->first_scan_uri.get(), shared_->tls,
                                      shared_->system_ca_directory);
    mongoc_server_description_t* server =
        mongoc_client_select_server(probe, /*for_writes=*/false, nullptr, &error);
    if (server != nullptr) {
      mongoc_server_description_destroy(server);
      return;
    }
    const detail::ErrorContext context = shared_->error_context();
    if (const auto failure = detail::tls_failure(error, shared_->tls);
        failure && !failure->retryable) {
      detail::throw_tls_error(*failure, "server selection", context, error);
    }
    if (detail::is_closed_while_connecting(error)) {
      constexpr std::chrono::milliseconds kLongestQuestion{1000};
      const auto timeout = std::min(shared_->connect_timeout, kLongestQuestion);
      if (const auto failure = detail::ask_server_about_client_certificate(
              shared_->first_scan_uri.get(), shared_->tls, timeout)) {
        detail::throw_tls_error(*failure, "server selection", context, error);
      }
    }
  }

  std::shared_ptr<Shared> shared_;
};

PoolOptions pool_options(const MongoSettings& settings, const ClientOptions& options,
                         const std::string& address) {
  // Settings validation judged the order already; settings built in code are judged here.
  poolkit::detail::require_ordered([&settings](std::string_view name) -> std::optional<double> {
    if (name == setting::kMongodbMinPoolSize) return static_cast<double>(settings.min_pool_size);
    if (name == setting::kMongodbMaxPoolSize) return static_cast<double>(settings.max_pool_size);
    return std::nullopt;
  });
  PoolOptions pool;
  pool.name = options.name;
  pool.address = address;
  pool.backend = Backend::mongo;
  pool.size_setting = setting::kMongodbMaxPoolSize;
  pool.min_size_setting = setting::kMongodbMinPoolSize;
  pool.max_size = settings.max_pool_size;
  pool.min_size = settings.min_pool_size;
  pool.wait_queue_timeout = settings.wait_queue_timeout;
  pool.max_idle_time = settings.max_idle_time;
  // Opening = handshake and ping: bounded by libmongoc's own timeouts, informational here.
  pool.connect_timeout = settings.server_selection_timeout + settings.connect_timeout;
  pool.health_check_interval = std::chrono::milliseconds(0);  // see Connector::check
  pool.background_interval = options.background_interval;
  pool.leak_threshold = options.leak_threshold;
  pool.strict_fifo = true;  // CMAP: nobody is overtaken
  return pool;
}

std::string address_of(const Url& url) {
  std::string hosts;
  for (const UrlHost& host : url.hosts) {
    if (!hosts.empty()) hosts += ',';
    hosts += host.name.find(':') != std::string::npos ? "[" + host.name + "]" : host.name;
    if (host.port) hosts += ":" + std::to_string(*host.port);
  }
  return hosts.empty() ? url.redacted() : hosts;
}

// The fields MongoSettings and Options share (settings member, options member); the URL is the
// settings' alone.
const auto kSharedFields = std::make_tuple(
    std::pair{&MongoSettings::max_pool_size, &Options::max_pool_size},
    std::pair{&MongoSettings::min_pool_size, &Options::min_pool_size},
    std::pair{&MongoSettings::wait_queue_timeout, &Options::wait_queue_timeout},
    std::pair{&MongoSettings::max_idle_time, &Options::max_idle_time},
    std::pair{&MongoSettings::server_selection_timeout, &Options::server_selection_timeout},
    std::pair{&MongoSettings::socket_timeout, &Options::socket_timeout},
    std::pair{&MongoSettings::connect_timeout, &Options::connect_timeout},
    std::pair{&MongoSettings::heartbeat_frequency, &Options::heartbeat_frequency},
    std::pair{&MongoSettings::appname, &Options::appname},
    std::pair{&MongoSettings::compressors, &Options::compressors});

// The settings a URL and Options stand for, so both constructors build the same client.
MongoSettings settings_of(Url url, const Options& options) {
  MongoSettings settings;
  settings.url = std::move(url);
  poolkit::detail::copy_to_settings(settings, options, kSharedFields);
  return settings;
}

}  // namespace

Options Options::from(const MongoSettings& settings, Options rest) {
  poolkit::detail::copy_to_options(rest, settings, kSharedFields);
  return rest;
}

Options Options::from(const MongoSettings& settings) {
  return from(settings, Options{});
}

struct Client::State {
  State(const MongoSettings& settings, ClientOptions options)
      : State(settings, std::move(options), detail::build_uri(settings)) {}

  State(const MongoSettings& settings, ClientOptions options, detail::BuiltUri built)
      : shared(std::make_shared<Shared>(std::move(built.uri), address_of(*settings.url),
                                        settings.socket_timeout, settings.connect_timeout)),
        warnings(std::move(built.warnings)),
        pool(Connector(shared), pool_options(settings, options, shared->address),
             std::move(options.listener)) {
    if (options.on_warning) {
      for (const std::string& warning : warnings) options.on_warning(warning);
    }
  }

  std::shared_ptr<Shared> shared;
  std::vector<std::string> warnings;
  Pool<Connector> pool;
};

Client::Client(std::string_view url, Options options) {
  detail::ensure_mongoc_initialized();
  const MongoSettings settings =
      settings_of(poolkit::detail::parse_layer_url(Layer::mongo, url), options);
  state_ = std::make_unique<State>(settings, std::move(options));
}

Client::Client(const MongoSettings& settings, Options options) {
  detail::ensure_mongoc_initialized();
  state_ = std::make_unique<State>(settings, std::move(options));
}

Client::~Client() {
  if (state_) state_->pool.close();
}

Lease Client::checkout() {
  return state_->pool.checkout();
}

Lease Client::checkout(std::chrono::milliseconds timeout) {
  return state_->pool.checkout(timeout);
}

Document Client::run_command(std::string_view db, const bson_t& command) {
  Lease lease = checkout();
  return run_command(lease, db, command);
}

// A connection that failed on the network is closed rather than reused: its next user would
// pay for the failure detection again.
Document Client::run_command(Lease& lease, std::string_view db, const bson_t& command) {
  bool network_failure = false;
  try {
    return command_or_throw(*lease, *state_->shared, db, command, network_failure);
  } catch (...) {
    if (network_failure) lease.mark_broken();
    throw;
  }
}

std::string Client::run_command_json(std::string_view db, std::string_view command_json) {
  const Document command = Document::from_json(command_json);
  return run_command(db, *command.get()).to_json();
}

PingResult Client::ping() {
  Lease lease = checkout();
  const auto command = simple_command("ping");
  const auto started = Clock::now();
  Document reply = run_command(lease, "admin", *command.get());
  return {.latency = Clock::now() - started, .reply = std::move(reply)};
}

Document Client::server_status() {
  return run_command("admin", *simple_command("serverStatus").get());
}

ConnPoolStatsResult Client::conn_pool_stats() {
  try {
    return {.supported = true,
            .unsupported_reason = {},
            .reply = run_command("admin", *simple_command("connPoolStats").get())};
  } catch (const ServerError& refused) {
    return {.supported = false,
            .unsupported_reason = fmt::format("unsupported by this server: {}", refused.what()),
            .reply = {}};
  }
}

void Client::fail(Lease& lease, const bson_error_t& error, std::string_view operation,
                  std::string_view db, std::string_view collection,
                  std::chrono::nanoseconds elapsed) const {
  if (is_network_error(error)) lease.mark_broken();
  raise(error, fmt::format("{} on {}.{}", operation, db, collection), elapsed);
}

void Client::raise(const bson_error_t& error, std::string_view operation,
                   std::chrono::nanoseconds elapsed) const {
  detail::throw_error(error, operation, state_->shared->error_context(), elapsed);
}

bool Client::is_network_error(const bson_error_t& error) noexcept {
  return detail::is_network(detail::classify(error));
}

MongoStats Client::stats() const {
  return {.pool = state_->pool.stats(),
          .commands = state_->shared->telemetry.commands(),
          .monitoring = state_->shared->telemetry.monitoring()};
}

void add_metrics(MetricsSnapshot& snapshot, const MongoStats& stats) {
  const MetricLabels pool{{"layer", "mongo"}, {"pool", stats.pool.name}};
  auto with = [&](const char* key, const char* value) {
    MetricLabels labels = pool;
    labels[key] = value;
    return labels;
  };
  snapshot.add_pool("mongo", stats.pool);
  snapshot.add_operations("mongo", "command", stats.commands);
  const MonitoringCounters& m = stats.monitoring;
  snapshot.add_counter("mongo_heartbeats", "Server checks by the driver, by outcome",
                       with("outcome", "ok"), static_cast<double>(m.heartbeats_succeeded));
  snapshot.add_counter("mongo_heartbeats", "Server checks by the driver, by outcome",
                       with("outcome", "failed"), static_cast<double>(m.heartbeats_failed));
  snapshot.add_counter("mongo_server_description_changes",
                       "Changes of a server's description seen by the driver", pool,
                       static_cast<double>(m.server_description_changes));
  snapshot.add_counter("mongo_topology_changes", "Changes of the topology seen by the driver", pool,
                       static_cast<double>(m.topology_changes));
}

PoolStats Client::pool_stats() const {
  return state_->pool.stats();
}

const std::vector<std::string>& Client::warnings() const noexcept {
  return state_->warnings;
}

const std::string& Client::address() const noexcept {
  return state_->shared->address;
}

void Client::clear() {
  state_->pool.clear();
}

void Client::close() {
  state_->pool.close();
}

}  // namespace poolkit::mongo
