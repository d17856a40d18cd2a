#pragma once
// The Redis layer: a pooled client on hiredis, configured from RedisSettings.
//
//   poolkit::redis::Client redis(settings.redis);
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
#include <initializer_list>
#include <map>
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
#include "poolkit/settings.hpp"

struct redisContext;  // hiredis

namespace poolkit::redis {

// ---------------------------------------------------------------------------------------------
// Arguments and replies

// One command argument: text (viewed, not copied: it must outlive the call) or an integer.
class Arg {
 public:
  Arg(const char* text) noexcept : text_(text) {}         // NOLINT: implicit by design
  Arg(std::string_view text) noexcept : text_(text) {}    // NOLINT
  Arg(const std::string& text) noexcept : text_(text) {}  // NOLINT
  template <std::integral Int>
  requires(!std::same_as<Int, char> && !std::same_as<Int, bool>) Arg(Int number)
  noexcept {  // NOLINT
    number_length_ = format_number(static_cast<long long>(number), digits_);
  }

  std::string_view view() const noexcept {
    return number_length_ != 0 ? std::string_view(digits_, number_length_) : text_;
  }

 private:
  static unsigned char format_number(long long number, char (&out)[24]) noexcept;
  std::string_view text_;
  char digits_[24] = {};
  unsigned char number_length_ = 0;
};

// A RESP2 reply: nil, integer, bulk string, status ("OK"), error ("WRONGTYPE ...") or array.
class Reply {
 public:
  enum class Type { nil, integer, string, status, error, array };

  Reply() = default;  // nil
  static Reply integer(long long value);
  static Reply string(std::string value);
  static Reply status(std::string value);
  static Reply error(std::string value);
  static Reply array(std::vector<Reply> elements);

  Type type() const noexcept { return type_; }
  bool is_nil() const noexcept { return type_ == Type::nil; }
  bool is_error() const noexcept { return type_ == Type::error; }

  // Each accessor throws ProtocolError naming the type it found when the reply is another type.
  long long as_integer() const;
  const std::string& as_string() const;                   // a bulk string or a status
  std::optional<std::string> as_optional_string() const;  // nil → nullopt
  const std::string& error_text() const;
  const std::vector<Reply>& as_array() const;

  bool operator==(const Reply&) const = default;

 private:
  Type type_ = Type::nil;
  long long integer_ = 0;
  std::string text_;
  std::vector<Reply> elements_;
};

std::string_view to_string(Reply::Type type) noexcept;

// Whether repeating this command gives the same result, so it may be retried after it was
// written (reads, SET without NX/GET, DEL, EXPIRE, HSET, ...; never INCR, LPUSH, ...).
bool is_idempotent(std::span<const Arg> command) noexcept;

// INFO, by section (lower case: "server", "clients", "memory", "stats", ...) and key.
struct Info {
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> sections;

  std::optional<std::string_view> get(std::string_view section, std::string_view key) const;
  // The key in whichever section holds it.
  std::optional<std::string_view> find(std::string_view key) const;
};
Info parse_info(std::string_view text);

// ---------------------------------------------------------------------------------------------
// One connection

namespace detail {
struct Endpoint;
struct ContextDeleter {
  void operator()(redisContext* context) const noexcept;
};
struct ReadState;  // bytes received, the reply scanner, the round trip's deadline
struct ReadStateDeleter {
  void operator()(ReadState* state) const noexcept;
};
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
  // that breaks a limit (the connection is then closed).
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
  // state.
  redisContext* native() const noexcept { return context_.get(); }

  bool broken() const noexcept { return broken_; }
  // Bookkeeping for the client's retries: whether anything of the current operation reached
  // the socket, and whether the failure was the server having closed the idle connection.
  void begin_operation() noexcept;
  bool wrote_anything() const noexcept { return wrote_; }
  bool lost_connection() const noexcept { return lost_; }
  bool closed_while_idle() const noexcept { return closed_while_idle_; }
  // The reply had started arriving when the deadline passed: the server answers, too slowly,
  // and a retry would take as long again.
  bool timed_out_mid_reply() const noexcept { return timed_out_mid_reply_; }
  // Nothing appended and unsent, no reply unread: safe to hand to the next caller.
  bool in_step() const noexcept;

 private:
  void ensure_alive();
  void start_round_trip() noexcept;
  // Waits until the socket is ready for `events` or the round trip's deadline passes.
  void wait_ready(short events, std::string_view doing);
  void receive_more();
  Reply take_parsed_reply();
  [[noreturn]] void fail_io(std::string_view doing, int saved_errno);
  [[noreturn]] void fail_timeout(std::string_view doing);
  [[noreturn]] void fail_protocol(std::string_view what);
  [[noreturn]] void fail_reply_limit();
  void close_socket() noexcept;

  std::unique_ptr<redisContext, detail::ContextDeleter> context_;
  std::shared_ptr<const detail::Endpoint> endpoint_;
  bool broken_ = false;
  bool wrote_ = false;
  bool lost_ = false;
  bool timed_out_mid_reply_ = false;
  bool closed_while_idle_ = false;
  bool checked_alive_ = false;
  std::string out_;  // encoded commands not yet sent; kept to reuse its capacity
  std::size_t pending_ = 0;
  std::unique_ptr<detail::ReadState, detail::ReadStateDeleter> read_;
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

enum class SetCondition { always, if_not_exists /* NX */, if_exists /* XX */ };

struct SetOptions {
  // Expiry; 0 = none. Whole seconds are sent as EX, anything else as PX.
  std::chrono::milliseconds ttl{0};
  SetCondition condition = SetCondition::always;
};

// What RedisSettings does not cover; the defaults suit a service.
struct ClientOptions {
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
  std::shared_ptr<PoolListener> listener;
};

struct ClientStats {
  PoolStats pool;
  std::vector<OperationSnapshot> commands;  // by command name and outcome
  std::uint64_t retries = 0;                // attempts repeated after a failure
  std::uint64_t pool_clears = 0;            // network errors that dropped every idle connection
  std::uint64_t closed_while_idle = 0;  // connections the server had closed, found before a write
};

class Client {
 public:
  // Throws ConfigError when the URL is missing, rediss:// ("TLS is not supported yet"), or has
  // a bad database number.
  explicit Client(const RedisSettings& settings, ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Any command. Throws ServerError on an error reply.
  Reply command(std::span<const Arg> args);
  Reply command(std::span<const std::string> args);
  template <class... Args>
  requires(sizeof...(Args) > 0 && (std::constructible_from<Arg, const Args&> && ...)) Reply
      command(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return command(std::span<const Arg>(argv));
  }

  // Strings and keys
  std::optional<std::string> get(std::string_view key);
  // false when the NX / XX condition was not met.
  bool set(std::string_view key, std::string_view value, SetOptions options = {});
  long long del(std::initializer_list<std::string_view> keys);
  long long exists(std::initializer_list<std::string_view> keys);
  long long incr(std::string_view key, long long by = 1);
  long long decr(std::string_view key, long long by = 1);
  bool expire(std::string_view key, std::chrono::seconds ttl);
  // Seconds left; -1 when the key has no expiry, -2 when it does not exist (as TTL).
  long long ttl(std::string_view key);
  std::vector<std::optional<std::string>> mget(std::initializer_list<std::string_view> keys);
  void mset(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

  // Hashes
  bool hset(std::string_view key, std::string_view field, std::string_view value);  // new field?
  long long hset(std::string_view key,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> fields);
  std::optional<std::string> hget(std::string_view key, std::string_view field);
  std::map<std::string, std::string> hgetall(std::string_view key);
  long long hdel(std::string_view key, std::initializer_list<std::string_view> fields);
  long long hincrby(std::string_view key, std::string_view field, long long by);
  bool hexists(std::string_view key, std::string_view field);

  // Lists
  long long lpush(std::string_view key, std::initializer_list<std::string_view> values);
  long long rpush(std::string_view key, std::initializer_list<std::string_view> values);
  std::optional<std::string> lpop(std::string_view key);
  std::optional<std::string> rpop(std::string_view key);
  std::vector<std::string> lrange(std::string_view key, long long start, long long stop);
  long long llen(std::string_view key);

  // Sets
  long long sadd(std::string_view key, std::initializer_list<std::string_view> members);
  long long srem(std::string_view key, std::initializer_list<std::string_view> members);
  std::vector<std::string> smembers(std::string_view key);  // sorted
  bool sismember(std::string_view key, std::string_view member);
  long long scard(std::string_view key);

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
      run("WITH_CONNECTION", Repeat::never, {}, [&](Connection& c) { fn(c); });
    } else {
      std::optional<Result> result;
      run("WITH_CONNECTION", Repeat::never, {}, [&](Connection& c) { result.emplace(fn(c)); });
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
  // When a failure after the command was written may be retried.
  enum class Repeat { never, always, by_command };
  void run(std::string_view name, Repeat repeat, std::span<const Arg> command,
           const std::function<void(Connection&)>& fn);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolkit::redis
