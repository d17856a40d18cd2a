#pragma once
// The Redis layer: a pooled client on hiredis, built from a URL (with Options) or from
// RedisSettings.
//
//   poolkit::redis::Client redis("redis://cache:6379/0");   // or redis(settings.redis)
//   redis.set("greeting", "hello", {.ttl = std::chrono::seconds(30)});
//   std::optional<std::string> value = redis.get("greeting");
//   poolkit::redis::Reply reply = redis.command("OBJECT", "ENCODING", "greeting");
//
// Every call leases one connection from the pool for its duration. Network failures are retried
// as docs/redis.md describes (always before the command was written, afterwards only for
// commands that give the same result when repeated); an error reply is a ServerError carrying
// Redis's text.

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "poolkit/operation_stats.hpp"
#include "poolkit/pool_events.hpp"
#include "poolkit/pool_stats.hpp"
#include "poolkit/redis_commands.hpp"
#include "poolkit/settings.hpp"
#include "poolkit/tls.hpp"

struct redisContext;  // hiredis

namespace poolkit::redis {

// ---------------------------------------------------------------------------------------------
// One connection

namespace detail {
struct Endpoint;
struct ContextDeleter {
  void operator()(redisContext* context) const noexcept;
};
// Bytes received, the reply scanner, the round trip's deadline, and what the current operation
// did (the client's retry bookkeeping); src/redis/connection_state.hpp.
struct ConnectionState;
struct ConnectionStateDeleter {
  void operator()(ConnectionState* state) const noexcept;
};
struct ConnectionAccess;  // the client's view of ConnectionState
struct ClientAccess;      // the topology clients' view of a Client
}  // namespace detail

// One open, authenticated connection. A caller sees it only inside with_connection(); any
// network failure marks it broken and the pool closes it.
//
// A round trip (the first flush() until every reply sent for is read; one command, or a whole
// pipeline) must finish within REDIS_SOCKET_TIMEOUT from its start, however the server spaces
// its bytes. Every reply is checked against REDIS_MAX_REPLY_BYTES and the protocol's shape as
// it arrives, before hiredis allocates anything for it.
class Connection {
 public:
  Connection(std::unique_ptr<redisContext, detail::ContextDeleter> context,
             std::shared_ptr<const detail::Endpoint> endpoint);

  // Sends one command and reads its reply. Throws ServerError on an error reply (the connection
  // stays usable), ConnectError / TimeoutError / ProtocolError on a network failure or a reply
  // that breaks a limit (the connection is then closed). A ConnectError or TimeoutError says in
  // may_have_run() whether any byte of the current operation (the client's call) was written.
  Reply command(std::span<const Arg> args);
  template <class... Args>
  requires(std::constructible_from<Arg, const Args&>&&...) Reply command(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return command(std::span<const Arg>(argv));
  }

  // Pipelining by hand: append() buffers, flush() writes everything, read_reply() reads the
  // next reply (an error reply is returned, not thrown).
  void append(std::span<const Arg> args);
  void flush();
  Reply read_reply();

  // The hiredis context, for anything this API lacks (its own reads have only hiredis' per-read
  // timeout and no reply limits). Mark the lease broken (throw) if you leave it in an unknown
  // state. Over rediss:// its socket carries TLS: never read or write it through hiredis.
  redisContext* native() const noexcept { return context_.get(); }

  bool broken() const noexcept { return broken_; }
  // Nothing appended and unsent, no reply unread: safe to hand to the next caller.
  bool in_step() const noexcept;

 private:
  friend struct detail::ConnectionAccess;
  void ensure_alive();
  void start_round_trip() noexcept;
  // Waits until the socket is ready for `events` or the round trip's deadline passes.
  void wait_ready(short events, std::string_view doing);
  void flush_tls();
  void receive_more();
  void receive_more_tls();
  Reply take_parsed_reply();
  [[noreturn]] void fail_io(std::string_view doing, int saved_errno);
  [[noreturn]] void fail_tls(std::string_view doing);
  [[noreturn]] void fail_timeout(std::string_view doing);
  [[noreturn]] void fail_protocol(std::string_view what);
  [[noreturn]] void fail_reply_limit();
  void close_socket() noexcept;

  std::unique_ptr<redisContext, detail::ContextDeleter> context_;
  std::shared_ptr<const detail::Endpoint> endpoint_;
  bool broken_ = false;
  std::string out_;  // encoded commands not yet sent; kept to reuse its capacity
  std::size_t pending_ = 0;
  std::unique_ptr<detail::ConnectionState, detail::ConnectionStateDeleter> state_;
};

// ---------------------------------------------------------------------------------------------
// Pipelines and transactions

class Client;

// Commands queued and sent in one round trip on one leased connection. Error replies take
// their place in the result (they are not thrown).
class Pipeline {
 public:
  explicit Pipeline(Client& client) : client_(&client) {}

  Pipeline& add(std::span<const Arg> args);
  template <class... Args>
  requires(std::constructible_from<Arg, const Args&>&&...) Pipeline& add(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return add(std::span<const Arg>(argv));
  }
  std::size_t size() const noexcept { return commands_.size(); }
  // Sends everything, returns one reply per command in order, and empties the pipeline. Retried
  // after a network failure only when every command in it is idempotent.
  std::vector<Reply> execute();

 private:
  Client* client_;
  std::vector<std::vector<std::string>> commands_;
};

// Handed to the body of Client::transaction(). command() runs at once (e.g. reading the
// watched keys); queue() adds a command to MULTI ... EXEC.
class Transaction {
 public:
  explicit Transaction(Connection& connection) : connection_(&connection) {}

  Reply command(std::span<const Arg> args) { return connection_->command(args); }
  template <class... Args>
  requires(std::constructible_from<Arg, const Args&>&&...) Reply command(const Args&... args) {
    return connection_->command(args...);
  }
  Transaction& queue(std::span<const Arg> args);
  template <class... Args>
  requires(std::constructible_from<Arg, const Args&>&&...) Transaction& queue(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return queue(std::span<const Arg>(argv));
  }

 private:
  friend class Client;
  Connection* connection_;
  std::vector<std::vector<std::string>> queued_;
};

// ---------------------------------------------------------------------------------------------
// The client

// Everything a client can be told besides its URL. The first group mirrors RedisSettings, with
// the settings table's defaults (docs/configuration.md); the rest has no variable.
struct Options {
  std::size_t max_connections = 100;                        // REDIS_MAX_CONNECTIONS
  std::chrono::milliseconds connect_timeout{2000};          // REDIS_CONNECT_TIMEOUT
  std::chrono::milliseconds socket_timeout{2000};           // REDIS_SOCKET_TIMEOUT: one round trip
  std::chrono::milliseconds health_check_interval{30'000};  // REDIS_HEALTH_CHECK_INTERVAL
  std::chrono::milliseconds wait_timeout{5000};             // REDIS_WAIT_TIMEOUT
  int retry_attempts = 3;                                   // REDIS_RETRY_ATTEMPTS
  std::optional<std::string> client_name{};                 // REDIS_CLIENT_NAME; nullopt: process
  std::size_t max_reply_bytes = std::size_t{64} << 20;      // REDIS_MAX_REPLY_BYTES
  // rediss:// (SPEC §3): REDIS_SSL_CA_CERTS → ca_file, REDIS_SSL_CERTFILE → cert_file,
  // REDIS_SSL_KEYFILE → key_file, REDIS_SSL_CERT_REQS → verify_peer, REDIS_SSL_CHECK_HOSTNAME
  // → verify_hostname. The URL's ssl_* query options win over these.
  TlsOptions tls{};

  // A new rediss:// connection resumes the last TLS session: false only to measure what
  // resumption saves, or for a server that mishandles it.
  bool resume_tls_sessions = true;
  // An idle connection unused for this long is closed (0 = never).
  std::chrono::milliseconds max_idle_time{60'000};
  // Connections kept open and warm.
  std::size_t min_connections = 0;
  // See docs/pool.md "Fairness"; false measured faster with many threads (docs/benchmarks.md).
  bool strict_fifo = false;
  // Period of the pool's maintenance task (idle closing, warm minimum, leak reports).
  std::chrono::milliseconds background_interval{1000};
  // A lease (with_connection(), a transaction) held longer than this is reported once to the
  // listener as lease_leaked and counted in stats().pool.leaks_detected; 0 = off.
  std::chrono::milliseconds leak_threshold{0};
  std::shared_ptr<PoolListener> listener{};

  // `rest` (or the defaults) with every field RedisSettings holds taken from `settings` (the URL
  // aside).
  static Options from(const RedisSettings& settings, Options rest);
  static Options from(const RedisSettings& settings);
};
using ClientOptions = Options;  // the earlier name

struct ClientStats {
  PoolStats pool;
  std::vector<OperationSnapshot> commands;  // by command name and outcome
  std::uint64_t retries = 0;                // attempts repeated after a failure
  std::uint64_t pool_clears = 0;            // network errors that dropped every idle connection
  std::uint64_t closed_while_idle = 0;  // connections the server had closed, found before a write
  // rediss:// handshakes that completed: in full, and resumed from an earlier session.
  std::uint64_t tls_full_handshakes = 0;
  std::uint64_t tls_resumed_handshakes = 0;
};

class Client : public Commands<Client> {
 public:
  // redis://[user:password@]host:port/db, rediss://… (TLS; ssl_* query options as redis-py's
  // from_url reads them, e.g. ?ssl_ca_certs=/etc/ca.pem), or unix:///path.sock?db=N. Throws
  // ConfigError, with the message REDIS_URL would earn, when the URL is refused: another
  // scheme, a bad database number, a TLS file that cannot be used.
  explicit Client(std::string_view url, Options options = {});
  // From the settings: REDIS_URL (ConfigError when unset) and every REDIS_* variable; `options`
  // gives what they don't cover (listener, min_connections, ...).
  explicit Client(const RedisSettings& settings, Options options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Any command. Throws ServerError on an error reply.
  Reply command(std::span<const Arg> args);
  using Commands<Client>::command;  // command("GET", key), ... (redis_commands.hpp)

  // get, set, del, mget, the hash, list and set helpers: redis_commands.hpp.

  // Health: the round trip of one PING, and INFO parsed.
  std::chrono::microseconds ping();
  Info info(std::string_view section = {});

  Pipeline pipeline() { return Pipeline(*this); }

  // MULTI ... EXEC on one connection. With watched keys: WATCH them, run body (whose command()
  // calls run at once, e.g. to read the keys), then EXEC what it queued. Returns nullopt when a
  // watched key changed in between (nothing was executed), else one reply per queued command.
  // A transaction is retried only when nothing of it was written.
  std::optional<std::vector<Reply>> transaction(const std::function<void(Transaction&)>& body,
                                                std::span<const std::string> watch = {});

  // Runs fn on one leased connection (blocking commands, CLIENT commands, SUBSCRIBE...).
  // Retried only when fn wrote nothing.
  template <class Fn>
  std::invoke_result_t<Fn&, Connection&> with_connection(Fn&& fn) {
    using Result = std::invoke_result_t<Fn&, Connection&>;
    if constexpr (std::is_void_v<Result>) {
      run_with_connection([&](Connection& c) { fn(c); });
    } else {
      std::optional<Result> result;
      run_with_connection([&](Connection& c) { result.emplace(fn(c)); });
      return std::move(*result);
    }
  }

  // A connection outside the pool, opened with the same handshake (and closed by its
  // destructor): for --no-reuse benchmarks and long-lived dedicated connections.
  Connection open_unpooled();

  ClientStats stats() const;
  // Drops every idle connection and makes the ones in use stale.
  void clear();
  // Idempotent. Later calls throw PoolClosedError.
  void close();
  // The URL with its password masked.
  const std::string& address() const noexcept;

 private:
  friend class Pipeline;
  friend struct detail::ClientAccess;
  // with_connection()'s body: on one leased connection, retried only when fn wrote nothing.
  void run_with_connection(const std::function<void(Connection&)>& fn);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolkit::redis
