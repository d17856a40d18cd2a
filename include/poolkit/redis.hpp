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
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "poolkit/operation_stats.hpp"
#include "poolkit/pool_events.hpp"
#include "poolkit/pool_stats.hpp"
#include "poolkit/settings.hpp"
#include "poolkit/tls.hpp"

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

enum class SetCondition { always, if_not_exists /* NX */, if_exists /* XX */ };

struct SetOptions {
  // Expiry; 0 = none. Whole seconds are sent as EX, anything else as PX.
  std::chrono::milliseconds ttl{0};
  SetCondition condition = SetCondition::always;
};

// SET key value [EX s | PX ms] [NX | XX]: the command every client's set() sends. The key and
// value are viewed, not copied.
std::vector<Arg> set_command(std::string_view key, std::string_view value, SetOptions options);

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

// Text a multi-key helper accepts: std::string, std::string_view, const char*, ...
template <class Range>
concept StringRange = std::ranges::input_range<Range> &&
    std::convertible_to<std::ranges::range_reference_t<Range>, std::string_view>;

// Pairs a multi-key helper accepts (std::map<std::string, std::string>, a vector of pairs, ...).
template <class Range>
concept StringPairRange = std::ranges::input_range<Range> &&
    requires(std::ranges::range_reference_t<Range> pair) {
  { std::get<0>(pair) } -> std::convertible_to<std::string_view>;
  { std::get<1>(pair) } -> std::convertible_to<std::string_view>;
};

namespace detail {
// A command's arguments: a fixed head, then the words of a range. Words the range yields as
// temporaries (a transforming view) are kept here, since an Arg only views its text.
class CommandWords {
 public:
  template <class Range>
  CommandWords(std::initializer_list<Arg> head, Range&& words) : args_(head) {
    for (auto&& word : words) add(std::forward<decltype(word)>(word));
  }
  template <class Range>
  CommandWords(std::initializer_list<Arg> head, Range&& pairs, std::in_place_t) : args_(head) {
    for (auto&& pair : pairs) {
      add(std::get<0>(std::forward<decltype(pair)>(pair)));
      add(std::get<1>(std::forward<decltype(pair)>(pair)));
    }
  }
  std::span<const Arg> args() const noexcept { return args_; }

 private:
  template <class Word>
  void add(Word&& word) {
    using Plain = std::remove_cvref_t<Word>;
    constexpr bool only_views = std::is_same_v<Plain, std::string_view> ||
                                std::is_pointer_v<std::decay_t<Word>> || std::is_array_v<Plain>;
    if constexpr (std::is_lvalue_reference_v<Word> || only_views) {
      args_.emplace_back(std::string_view(word));
    } else {
      args_.emplace_back(std::string_view(owned_.emplace_back(std::forward<Word>(word))));
    }
  }
  std::vector<Arg> args_;
  std::deque<std::string> owned_;  // a deque: its elements stay where they are as it grows
};
}  // namespace detail

// Each element of an array reply as a string, nil as nullopt (MGET's reply).
std::vector<std::optional<std::string>> optional_strings_of(const Reply& reply);

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

class Client {
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
  // The multi-key helpers take a braced list or any range of text (a std::vector<std::string>,
  // a std::set, a view, ...); the pair helpers a braced list of pairs or a range of pairs (a
  // std::map, ...).
  long long del(std::initializer_list<std::string_view> keys) { return del<>(keys); }
  template <StringRange Keys>
  long long del(Keys&& keys) {
    return count(detail::CommandWords({"DEL"}, std::forward<Keys>(keys)));
  }
  long long exists(std::initializer_list<std::string_view> keys) { return exists<>(keys); }
  template <StringRange Keys>
  long long exists(Keys&& keys) {
    return count(detail::CommandWords({"EXISTS"}, std::forward<Keys>(keys)));
  }
  long long incr(std::string_view key, long long by = 1);
  long long decr(std::string_view key, long long by = 1);
  bool expire(std::string_view key, std::chrono::seconds ttl);
  // Seconds left; -1 when the key has no expiry, -2 when it does not exist (as TTL).
  long long ttl(std::string_view key);
  std::vector<std::optional<std::string>> mget(std::initializer_list<std::string_view> keys) {
    return mget<>(keys);
  }
  template <StringRange Keys>
  std::vector<std::optional<std::string>> mget(Keys&& keys) {
    return optional_strings_of(command(detail::CommandWords({"MGET"}, std::forward<Keys>(keys))));
  }
  void mset(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
    mset<>(pairs);
  }
  template <StringPairRange Pairs>
  void mset(Pairs&& pairs) {
    command(detail::CommandWords({"MSET"}, std::forward<Pairs>(pairs), std::in_place));
  }

  // Hashes
  bool hset(std::string_view key, std::string_view field, std::string_view value);  // new field?
  long long hset(std::string_view key,
                 std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
    return hset<>(key, fields);
  }
  template <StringPairRange Fields>
  long long hset(std::string_view key, Fields&& fields) {
    return count(detail::CommandWords({"HSET", key}, std::forward<Fields>(fields), std::in_place));
  }
  std::optional<std::string> hget(std::string_view key, std::string_view field);
  std::map<std::string, std::string> hgetall(std::string_view key);
  long long hdel(std::string_view key, std::initializer_list<std::string_view> fields) {
    return hdel<>(key, fields);
  }
  template <StringRange Words>
  long long hdel(std::string_view key, Words&& fields) {
    return count(detail::CommandWords({"HDEL", key}, std::forward<Words>(fields)));
  }
  long long hincrby(std::string_view key, std::string_view field, long long by);
  bool hexists(std::string_view key, std::string_view field);

  // Lists
  long long lpush(std::string_view key, std::initializer_list<std::string_view> values) {
    return lpush<>(key, values);
  }
  template <StringRange Words>
  long long lpush(std::string_view key, Words&& values) {
    return count(detail::CommandWords({"LPUSH", key}, std::forward<Words>(values)));
  }
  long long rpush(std::string_view key, std::initializer_list<std::string_view> values) {
    return rpush<>(key, values);
  }
  template <StringRange Words>
  long long rpush(std::string_view key, Words&& values) {
    return count(detail::CommandWords({"RPUSH", key}, std::forward<Words>(values)));
  }
  std::optional<std::string> lpop(std::string_view key);
  std::optional<std::string> rpop(std::string_view key);
  std::vector<std::string> lrange(std::string_view key, long long start, long long stop);
  long long llen(std::string_view key);

  // Sets
  long long sadd(std::string_view key, std::initializer_list<std::string_view> members) {
    return sadd<>(key, members);
  }
  template <StringRange Words>
  long long sadd(std::string_view key, Words&& members) {
    return count(detail::CommandWords({"SADD", key}, std::forward<Words>(members)));
  }
  long long srem(std::string_view key, std::initializer_list<std::string_view> members) {
    return srem<>(key, members);
  }
  template <StringRange Words>
  long long srem(std::string_view key, Words&& members) {
    return count(detail::CommandWords({"SREM", key}, std::forward<Words>(members)));
  }
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
  Reply command(const detail::CommandWords& words) { return command(words.args()); }
  long long count(const detail::CommandWords& words) { return command(words).as_integer(); }

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolkit::redis
