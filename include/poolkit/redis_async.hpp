#pragma once
// The async Redis client: many callers share a few connections (REDIS_MULTIPLEX_CONNECTIONS),
// and every command queued while a write is in flight goes out together in the next write
// (automatic pipelining). One I/O thread per client owns the connections; callers on any thread
// queue commands and get a future, a callback, or an awaitable for C++20 coroutines. What one
// thread queues goes to one connection, so it runs in the order it was queued.
//
//   poolkit::redis::AsyncClient redis(settings.redis);
//   std::future<Reply> pong = redis.send("PING");                  // futures
//   redis.send({"INCR", "visits"}, [](AsyncResult r) { ... });      // callbacks (I/O thread!)
//   std::optional<std::string> v = co_await redis.async_get("k");  // coroutines
//   long long n = redis.incr("visits");                            // blocking (send + wait)
//
// Refused, with a pointer to the pooled redis::Client's transaction() / with_connection():
// commands that change or hold the connection's state (MULTI/EXEC/WATCH, SELECT, AUTH, CLIENT
// REPLY, SUBSCRIBE, MONITOR, ...) and blocking reads (BLPOP, XREAD ... BLOCK, WAIT, ...), which
// would stall every other caller sharing the connection.

#include <atomic>
#include <chrono>
#include <concepts>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <future>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "poolkit/operation_stats.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/redis_commands.hpp"
#include "poolkit/settings.hpp"
#include "poolkit/tls.hpp"

namespace poolkit::redis {

// Where a coroutine awaiting a command resumes: called with the coroutine's handle when the
// reply is in; it must arrange handle.resume() on the thread it chooses (post it to an Asio
// io_context, a thread pool, ...). Empty: the coroutine resumes on the client's I/O thread.
using Executor = std::function<void(std::coroutine_handle<>)>;

// Everything an async client can be told besides its URL; the defaults are the settings
// table's (docs/configuration.md).
struct AsyncOptions {
  std::size_t multiplex_connections = 2;                    // REDIS_MULTIPLEX_CONNECTIONS
  std::size_t max_pending = 10'000;                         // REDIS_MAX_PENDING
  std::chrono::milliseconds connect_timeout{2000};          // REDIS_CONNECT_TIMEOUT
  std::chrono::milliseconds socket_timeout{2000};           // REDIS_SOCKET_TIMEOUT: per command
  std::chrono::milliseconds health_check_interval{30'000};  // REDIS_HEALTH_CHECK_INTERVAL
  std::chrono::milliseconds wait_timeout{5000};         // REDIS_WAIT_TIMEOUT: for a pending slot
  int retry_attempts = 3;                               // REDIS_RETRY_ATTEMPTS (idempotent only)
  std::optional<std::string> client_name{};             // REDIS_CLIENT_NAME; nullopt: process
  std::size_t max_reply_bytes = std::size_t{64} << 20;  // REDIS_MAX_REPLY_BYTES
  TlsOptions tls{};                                     // REDIS_SSL_*, as Options::tls
  bool resume_tls_sessions = true;

  // Where coroutines resume (see Executor); each awaitable may override it (resume_on()).
  Executor executor{};

  // `rest` (or the defaults) with every field RedisSettings holds taken from `settings`.
  static AsyncOptions from(const RedisSettings& settings, AsyncOptions rest);
  static AsyncOptions from(const RedisSettings& settings);
};

namespace detail {
// One command's result, shared by the I/O thread (which completes it) and whoever waits for it
// (a blocked thread, a coroutine, a future). Reference-counted; src/redis/async/.
class CallState;
struct CallStateRelease {
  void operator()(CallState* state) const noexcept;
};
using CallHandle = std::unique_ptr<CallState, CallStateRelease>;

bool call_ready(const CallState& state) noexcept;
// Ready, and no client executor to resume through: a coroutine may go on without suspending.
bool call_ready_inline(const CallState& state) noexcept;
// Throws ConfigError on the client's I/O thread (it would wait for itself).
void call_wait(const CallState& state);
// Registers the coroutine to resume; false when the result is already in (resume at once).
bool call_suspend(CallState& state, std::coroutine_handle<> continuation,
                  Executor* executor) noexcept;
// The reply (moved out), or the error it failed with thrown. Call once, after it is ready.
Reply call_take(CallState& state);
// Runs `then` (on the I/O thread, or at once when already complete) with the result.
void call_then(CallState& state, std::function<void(CallState&)> then);
}  // namespace detail

// A command sent, whose reply is awaited: `co_await` it from any coroutine type, or get() it
// (blocking), or turn it into a std::future. T is what the typed helper returns (Reply for
// async_command()). An error reply becomes a ServerError; a lost connection, a timeout, a
// refused command the matching typed error.
//
// Resumption: a coroutine resumes on the client's I/O thread (keep that part short, never block
// in it: every caller's replies wait while it runs), or goes on without suspending on its own
// thread when the reply is already in. With an executor (AsyncOptions::executor, resume_on()) it
// always resumes through the executor, even then.
template <class Client>
class AsyncCommands;

template <class T>
class Awaitable {
 public:
  using Convert = T (*)(Reply&&);
  Awaitable(detail::CallHandle state, Convert convert) noexcept
      : state_(std::move(state)), convert_(convert) {}

  // Resumes the awaiting coroutine through `executor` instead of the client's default.
  Awaitable& resume_on(Executor executor) & {
    executor_ = std::make_unique<Executor>(std::move(executor));
    return *this;
  }
  Awaitable&& resume_on(Executor executor) && { return std::move(resume_on(std::move(executor))); }

  bool ready() const noexcept { return detail::call_ready(*state_); }
  // Blocks until the reply is in. Call once.
  T get() {
    detail::call_wait(*state_);
    return convert_(detail::call_take(*state_));
  }
  std::future<T> future() && {
    auto promise = std::make_shared<std::promise<T>>();
    std::future<T> result = promise->get_future();
    detail::call_then(*state_, [promise, convert = convert_](detail::CallState& state) {
      try {
        promise->set_value(convert(detail::call_take(state)));
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
    return result;
  }

  bool await_ready() const noexcept {
    return executor_ == nullptr && detail::call_ready_inline(*state_);
  }
  bool await_suspend(std::coroutine_handle<> continuation) noexcept {
    return detail::call_suspend(*state_, continuation, executor_.get());
  }
  T await_resume() { return convert_(detail::call_take(*state_)); }

 private:
  template <class Client>
  friend class AsyncCommands;  // retypes async_command()'s Awaitable<Reply>
  detail::CallHandle state_;
  Convert convert_;
  std::unique_ptr<Executor> executor_;  // per call; null: the client's
};

// What a callback receives: the reply, or the error the command failed with.
class AsyncResult {
 public:
  explicit AsyncResult(detail::CallState& state) noexcept : state_(&state) {}
  // The reply; throws the error (ServerError for an error reply, TimeoutError, ...). Once.
  Reply get() { return detail::call_take(*state_); }

 private:
  detail::CallState* state_;
};
using Callback = std::function<void(AsyncResult)>;

namespace detail {
// What each typed awaitable gives, from its reply (an Awaitable<T> holds a plain function
// pointer to one).
inline Reply as_reply(Reply&& reply) {
  return std::move(reply);
}
inline std::optional<std::string> as_optional_string(Reply&& reply) {
  return reply.as_optional_string();
}
inline long long as_integer(Reply&& reply) {
  return reply.as_integer();
}
inline bool as_flag(Reply&& reply) {
  return reply.as_integer() != 0;
}
inline bool as_set_done(Reply&& reply) {
  return !reply.is_nil();  // SET NX/XX answers nil when its condition was not met
}
inline std::vector<std::optional<std::string>> as_optional_strings(Reply&& reply) {
  return optional_strings_of(reply);
}
}  // namespace detail

// The forms of send() and async_command() and the typed awaitables every async client shares,
// written once over the calls a client provides (as Commands does the blocking helpers):
//
//   class MyAsyncClient : public AsyncCommands<MyAsyncClient> {
//    public:
//     using AsyncCommands<MyAsyncClient>::send;           // the variadic and callback forms
//     using AsyncCommands<MyAsyncClient>::async_command;  // async_command("GET", key)
//     std::future<Reply> send(std::span<const Arg> args);
//     void send(std::span<const Arg> args, Callback callback);
//     Awaitable<Reply> async_command(std::span<const Arg> args);
//   };
//
// Each typed awaitable is the client's async_command() with the reply's converter swapped in,
// so whatever the client does with a command (routing, redirects) applies to it unchanged.
template <class Client>
class AsyncCommands {
 public:
  template <class... Args>
  requires(sizeof...(Args) > 0 && (std::constructible_from<Arg, const Args&> &&
                                   ...)) std::future<Reply> send(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return client().send(std::span<const Arg>(argv));
  }
  void send(std::initializer_list<Arg> args, Callback callback) {
    client().send(std::span<const Arg>(args.begin(), args.size()), std::move(callback));
  }

  template <class... Args>
  requires(sizeof...(Args) > 0 && (std::constructible_from<Arg, const Args&> &&
                                   ...)) Awaitable<Reply> async_command(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return client().async_command(std::span<const Arg>(argv));
  }

  // Typed awaitables, the shapes of the pooled client's helpers.
  Awaitable<std::optional<std::string>> async_get(std::string_view key) {
    const Arg args[] = {"GET", key};
    return typed(args, &detail::as_optional_string);
  }
  Awaitable<bool> async_set(std::string_view key, std::string_view value, SetOptions options = {}) {
    return typed(set_command(key, value, options), &detail::as_set_done);
  }
  Awaitable<long long> async_del(std::initializer_list<std::string_view> keys) {
    return typed(detail::CommandWords({"DEL"}, keys).args(), &detail::as_integer);
  }
  Awaitable<long long> async_exists(std::initializer_list<std::string_view> keys) {
    return typed(detail::CommandWords({"EXISTS"}, keys).args(), &detail::as_integer);
  }
  Awaitable<long long> async_incr(std::string_view key, long long by = 1) {
    return counter("INCR", "INCRBY", key, by);
  }
  Awaitable<long long> async_decr(std::string_view key, long long by = 1) {
    return counter("DECR", "DECRBY", key, by);
  }
  Awaitable<bool> async_expire(std::string_view key, std::chrono::seconds ttl) {
    const Arg args[] = {"EXPIRE", key, static_cast<long long>(ttl.count())};
    return typed(args, &detail::as_flag);
  }
  Awaitable<std::vector<std::optional<std::string>>> async_mget(
      std::initializer_list<std::string_view> keys) {
    return typed(detail::CommandWords({"MGET"}, keys).args(), &detail::as_optional_strings);
  }
  Awaitable<std::optional<std::string>> async_hget(std::string_view key, std::string_view field) {
    const Arg args[] = {"HGET", key, field};
    return typed(args, &detail::as_optional_string);
  }
  Awaitable<bool> async_hset(std::string_view key, std::string_view field, std::string_view value) {
    const Arg args[] = {"HSET", key, field, value};
    return typed(args, &detail::as_flag);
  }
  Awaitable<long long> async_hincrby(std::string_view key, std::string_view field, long long by) {
    const Arg args[] = {"HINCRBY", key, field, by};
    return typed(args, &detail::as_integer);
  }
  Awaitable<long long> async_lpush(std::string_view key, std::string_view value) {
    const Arg args[] = {"LPUSH", key, value};
    return typed(args, &detail::as_integer);
  }
  Awaitable<long long> async_rpush(std::string_view key, std::string_view value) {
    const Arg args[] = {"RPUSH", key, value};
    return typed(args, &detail::as_integer);
  }
  Awaitable<std::optional<std::string>> async_lpop(std::string_view key) {
    const Arg args[] = {"LPOP", key};
    return typed(args, &detail::as_optional_string);
  }
  Awaitable<std::optional<std::string>> async_rpop(std::string_view key) {
    const Arg args[] = {"RPOP", key};
    return typed(args, &detail::as_optional_string);
  }
  Awaitable<long long> async_sadd(std::string_view key, std::string_view member) {
    const Arg args[] = {"SADD", key, member};
    return typed(args, &detail::as_integer);
  }
  Awaitable<bool> async_sismember(std::string_view key, std::string_view member) {
    const Arg args[] = {"SISMEMBER", key, member};
    return typed(args, &detail::as_flag);
  }

 private:
  Client& client() { return static_cast<Client&>(*this); }

  template <class T>
  Awaitable<T> typed(std::span<const Arg> args, T (*convert)(Reply&&)) {
    Awaitable<Reply> sent = client().async_command(args);
    return Awaitable<T>(std::move(sent.state_), convert);
  }
  // INCR/DECR for a step of one (what the server's counters name), INCRBY/DECRBY otherwise.
  Awaitable<long long> counter(const char* by_one, const char* by_n, std::string_view key,
                               long long by) {
    if (by == 1) {
      const Arg args[] = {by_one, key};
      return typed(args, &detail::as_integer);
    }
    const Arg args[] = {by_n, key, by};
    return typed(args, &detail::as_integer);
  }
};

class AsyncClient;
namespace detail {
// Internal (AsyncClusterClient's ASK redirect): ASKING and the command queued back to back, so
// they go out on one connection, one after the other. ASKING's own reply is dropped.
void send_after_asking(AsyncClient& client, std::span<const Arg> args, Callback callback);
}  // namespace detail

// Counters of the multiplexed connections; with the commands by name and outcome as the pooled
// client's ClientStats.
struct AsyncClientStats {
  std::size_t connections = 0;         // REDIS_MULTIPLEX_CONNECTIONS
  std::size_t connected = 0;           // open at the moment
  std::uint64_t pending = 0;           // queued or in flight (REDIS_MAX_PENDING bounds it)
  std::uint64_t in_flight = 0;         // written, reply not yet read
  std::uint64_t writes = 0;            // writes (each carries a batch of commands)
  std::uint64_t batched_commands = 0;  // commands written; / writes = mean batch size
  std::uint64_t max_batch = 0;         // most commands in one write
  // Commands per write, by power of two: [0] 1, [1] 2-3, [2] 4-7, ... [15] 32768 and more.
  std::vector<std::uint64_t> batch_histogram;
  std::uint64_t reconnects = 0;        // connections reopened after a loss
  std::uint64_t retries = 0;           // idempotent commands resent after a loss
  std::uint64_t pending_waits = 0;     // callers that waited for a pending slot
  std::uint64_t pending_timeouts = 0;  // callers that gave up (REDIS_WAIT_TIMEOUT)
  std::uint64_t late_replies = 0;      // replies read and dropped after their command timed out
  std::uint64_t tls_full_handshakes = 0;
  std::uint64_t tls_resumed_handshakes = 0;
  std::vector<OperationSnapshot> commands;  // by command name and outcome
};

class AsyncClient : public Commands<AsyncClient>, public AsyncCommands<AsyncClient> {
 public:
  // redis://…, rediss://… or unix://… as redis::Client takes them. Throws ConfigError as it does.
  // Connections open on the I/O thread: the constructor does not wait for the server.
  explicit AsyncClient(std::string_view url, AsyncOptions options = {});
  // From the settings: REDIS_URL and every REDIS_* variable (REDIS_MULTIPLEX_CONNECTIONS,
  // REDIS_MAX_PENDING included); `options` gives what they don't cover (the executor).
  explicit AsyncClient(const RedisSettings& settings, AsyncOptions options = {});
  // Closes (see close()).
  ~AsyncClient();
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Sends any command; the future holds the reply. Waits (up to REDIS_WAIT_TIMEOUT) only when
  // REDIS_MAX_PENDING commands are already pending; on the I/O thread it fails at once instead.
  // Throws ConfigError for a refused command, PoolTimeoutError when no slot freed in time,
  // PoolClosedError after close().
  std::future<Reply> send(std::span<const Arg> args);
  // As send(), the callback running on the I/O thread when the reply is in: keep it short and
  // never block in it (no get() of another command: that would wait for this very thread).
  void send(std::span<const Arg> args, Callback callback);
  // send("GET", key) and send({"GET", key}, callback): AsyncCommands' (above).
  using AsyncCommands<AsyncClient>::send;

  // The awaitable of any command; async_command("GET", key) and the typed awaitables
  // (async_get, async_set, async_incr, ...) are AsyncCommands', over this one.
  Awaitable<Reply> async_command(std::span<const Arg> args);
  using AsyncCommands<AsyncClient>::async_command;

  // Blocking: send and wait. Throws ServerError on an error reply. Never call it on the I/O
  // thread (from a callback or a coroutine resumed there): it throws ConfigError there.
  Reply command(std::span<const Arg> args) { return async_command(args).get(); }
  using Commands<AsyncClient>::command;  // command("GET", key), ... (redis_commands.hpp)

  // The blocking typed helpers (get, set, del, incr, mget, the hash, list and set helpers) are
  // redis::Commands' (redis_commands.hpp), over command(): each sends and waits.

  // A PING's round trip through the queue (as the other commands wait).
  std::chrono::microseconds ping();

  AsyncClientStats stats() const;
  // Whether the calling thread is this client's I/O thread (callbacks, resumed coroutines).
  bool on_io_thread() const noexcept;
  // Fails every pending command with PoolClosedError, closes the connections and joins the I/O
  // thread. Idempotent, any thread; later calls throw PoolClosedError. From a callback it only
  // stops the loop (the thread is joined later); never destroy the client from a callback.
  void close();
  // The URL with its password masked.
  const std::string& address() const noexcept;

  struct Impl;  // src/redis/async/

 private:
  detail::CallHandle submit(std::span<const Arg> args);
  // With a callback: the handle is empty (the queue owns the command). `after_asking`: ASKING
  // goes just before it on the same connection.
  detail::CallHandle submit(std::span<const Arg> args, Callback* callback,
                            bool after_asking = false);
  friend void detail::send_after_asking(AsyncClient&, std::span<const Arg>, Callback);
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolkit::redis
