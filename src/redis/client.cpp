// The client: one leased connection per call, retries with backoff, metrics by command name.

#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "../core/settings_url.hpp"
#include "../core/shared_fields.hpp"
#include "client_access.hpp"
#include "connection_state.hpp"
#include "endpoint.hpp"
#include "poolkit/backoff.hpp"
#include "poolkit/error.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::redis {
namespace {

using detail::MetricName;

using Clock = std::chrono::steady_clock;

std::vector<Arg> to_args(std::span<const std::string> words) {
  return std::vector<Arg>(words.begin(), words.end());
}

// The endpoint with the reply limit: REDIS_MAX_REPLY_BYTES (0, from settings built by hand,
// means the default).
std::shared_ptr<const detail::Endpoint> endpoint_for(const RedisSettings& settings,
                                                     const Options& options) {
  detail::Endpoint endpoint = detail::make_endpoint(settings, options.resume_tls_sessions);
  if (settings.max_reply_bytes != 0) endpoint.max_reply_bytes = settings.max_reply_bytes;
  return std::make_shared<const detail::Endpoint>(std::move(endpoint));
}

// The fields RedisSettings and Options share (settings member, options member); the URL is the
// settings' alone.
const auto kSharedFields = std::make_tuple(
    std::pair{&RedisSettings::max_connections, &Options::max_connections},
    std::pair{&RedisSettings::connect_timeout, &Options::connect_timeout},
    std::pair{&RedisSettings::socket_timeout, &Options::socket_timeout},
    std::pair{&RedisSettings::health_check_interval, &Options::health_check_interval},
    std::pair{&RedisSettings::wait_timeout, &Options::wait_timeout},
    std::pair{&RedisSettings::retry_attempts, &Options::retry_attempts},
    std::pair{&RedisSettings::client_name, &Options::client_name},
    std::pair{&RedisSettings::max_reply_bytes, &Options::max_reply_bytes},
    std::pair{&RedisSettings::tls, &Options::tls});

// The settings a URL and Options stand for, so both constructors build the same client.
RedisSettings settings_of(Url url, const Options& options) {
  RedisSettings settings;
  settings.url = std::move(url);
  poolkit::detail::copy_to_settings(settings, options, kSharedFields);
  return settings;
}

// The last attempt's error, saying what the whole call cost when it took more than one attempt,
// so the time in the message is the time the caller waited.
// `wrote_before`: an earlier attempt was written, so the command may have run even when the
// last attempt sent nothing.
[[noreturn]] void rethrow_with_attempts(const Error& error, int attempts, Clock::duration elapsed,
                                        bool wrote_before) {
  if (attempts <= 1) throw;
  const std::string message =
      fmt::format("{} ({} attempts, {} ms in all)", error.what(), attempts,
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  const Sent sent = wrote_before ? Sent::maybe : error.sent();
  switch (error.code()) {
    case ErrorCode::timeout:
      throw TimeoutError(error.backend(), message, sent);
    case ErrorCode::connect:
      throw ConnectError(error.backend(), message, sent);
    case ErrorCode::tls:
      throw TlsError(error.backend(), message, error.retryable());
    case ErrorCode::pool_timeout:
      throw PoolTimeoutError(error.backend(), message);
    case ErrorCode::pool_cleared:
      throw PoolClearedError(error.backend(), message);
    default:
      throw;
  }
}

PoolOptions pool_options(const Options& options, const detail::Endpoint& endpoint) {
  PoolOptions pool;
  pool.name = "redis";
  pool.address = endpoint.address;
  pool.backend = Backend::redis;
  pool.size_setting = setting::kRedisMaxConnections;
  pool.min_size_setting = "redis::Options::min_connections";
  pool.max_size = options.max_connections;
  pool.min_size = options.min_connections;
  pool.wait_queue_timeout = options.wait_timeout;
  pool.connect_timeout = options.connect_timeout;
  pool.health_check_interval = options.health_check_interval;
  pool.max_idle_time = options.max_idle_time;
  pool.strict_fifo = options.strict_fifo;
  pool.background_interval = options.background_interval;
  pool.leak_threshold = options.leak_threshold;
  return pool;
}

}  // namespace

Options Options::from(const RedisSettings& settings, Options rest) {
  poolkit::detail::copy_to_options(rest, settings, kSharedFields);
  return rest;
}

Options Options::from(const RedisSettings& settings) {
  return from(settings, Options{});
}

struct Client::Impl {
  // When a failure after the command was written may be retried.
  enum class Repeat { never, always, by_command };
  // `settings` decide the endpoint and the pool's bounds (Options::from has copied them into
  // `options`, whose other fields decide the rest).
  Impl(const RedisSettings& settings, const Options& options)
      : endpoint(endpoint_for(settings, options)),
        pool(detail::Connector{endpoint}, pool_options(options, *endpoint), options.listener),
        retry_attempts(std::max(options.retry_attempts, 0)) {}

  bool should_retry(const Error& error, bool wrote, bool slow_reply, int attempt, Repeat repeat,
                    std::span<const Arg> command) const {
    if (attempt >= retry_attempts || !error.retryable()) return false;
    if (error.code() == ErrorCode::pool_timeout) return false;  // it already waited its full time
    if (slow_reply) return false;  // the server answers, too slowly: it would do so again
    if (!wrote) return true;
    return repeat == Repeat::always || (repeat == Repeat::by_command && is_idempotent(command));
  }

  // Runs fn on a leased connection, retrying as docs/redis.md "Retries" says; records the
  // outcome under `name` ("server" when fn set *error_reply: an error reply it did not throw).
  void run(std::string_view name, Repeat repeat, std::span<const Arg> command,
           const std::function<void(Connection&)>& fn, const bool* error_reply = nullptr);

  void note_failure(bool lost, bool stale) {
    if (stale) closed_while_idle.fetch_add(1, std::memory_order_relaxed);
    if (lost) clear_pool();
  }

  // One network error means the siblings opened before it are probably dead too (a restart, a
  // failover): drop them all at once instead of letting each caller find its own.
  void clear_pool() {
    pool.clear();
    pool_clears.fetch_add(1, std::memory_order_relaxed);
  }

  std::shared_ptr<const detail::Endpoint> endpoint;
  Pool<detail::Connector> pool;
  OperationStats operations;
  Backoff backoff{.base = std::chrono::milliseconds(8),
                  .cap = std::chrono::milliseconds(512),
                  .jitter = std::chrono::milliseconds(0),
                  .jitter_ratio = 0.5};
  int retry_attempts;
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> pool_clears{0};
  std::atomic<std::uint64_t> closed_while_idle{0};
};

void Client::Impl::run(std::string_view name, Repeat repeat, std::span<const Arg> command,
                       const std::function<void(Connection&)>& fn, const bool* error_reply) {
  const auto started = Clock::now();
  bool wrote_before = false;  // by an attempt before this one
  for (int attempt = 0;; ++attempt) {
    bool wrote = false;
    bool stale = false;
    bool slow_reply = false;
    try {
      auto lease = pool.checkout();
      Connection& connection = *lease;
      detail::ConnectionAccess::begin_operation(connection);
      try {
        fn(connection);
      } catch (...) {
        const detail::Attempt& done = detail::ConnectionAccess::attempt(connection);
        wrote = done.wrote;
        stale = done.closed_while_idle;
        slow_reply = done.timed_out_mid_reply;
        const bool lost = done.lost;
        if (connection.broken() || !connection.in_step()) lease.mark_broken();
        lease.release();
        note_failure(lost, stale);
        throw;
      }
      if (!connection.in_step()) lease.mark_broken();  // with_connection left replies unread
      const bool refused = error_reply != nullptr && *error_reply;
      operations.record(name, refused ? to_string(ErrorCode::server) : "ok",
                        Clock::now() - started);
      return;
    } catch (const Error& error) {
      if (error.code() == ErrorCode::connect && !wrote && !stale) clear_pool();
      if (!should_retry(error, wrote, slow_reply, attempt, repeat, command)) {
        operations.record(name, to_string(error.code()), Clock::now() - started);
        rethrow_with_attempts(error, attempt + 1, Clock::now() - started, wrote_before);
      }
      wrote_before = wrote_before || wrote;
    } catch (...) {
      operations.record(name, "other", Clock::now() - started);
      throw;
    }
    retries.fetch_add(1, std::memory_order_relaxed);
    // A connection the server closed while idle says nothing about the server's health: the
    // next connection is tried at once.
    if (!stale) std::this_thread::sleep_for(backoff.delay(attempt + 1));
  }
}

Client::Client(std::string_view url, Options options)
    : impl_(std::make_unique<Impl>(
          settings_of(poolkit::detail::parse_layer_url(Layer::redis, url), options), options)) {}

Client::Client(const RedisSettings& settings, Options options)
    : impl_(std::make_unique<Impl>(settings, Options::from(settings, std::move(options)))) {}

Client::~Client() = default;

void Client::run_with_connection(const std::function<void(Connection&)>& fn) {
  impl_->run("WITH_CONNECTION", Impl::Repeat::never, {}, fn);
}

Reply Client::command(std::span<const Arg> args) {
  Reply reply;
  impl_->run(MetricName(args).view(), Impl::Repeat::by_command, args,
             [&](Connection& connection) { reply = connection.command(args); });
  return reply;
}

std::chrono::microseconds Client::ping() {
  std::chrono::microseconds latency{0};
  impl_->run("PING", Impl::Repeat::always, {}, [&](Connection& connection) {
    const auto sent = Clock::now();
    connection.command("PING");
    latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
  });
  return latency;
}

Info Client::info(std::string_view section) {
  const Reply reply = section.empty() ? command("INFO") : command("INFO", section);
  return parse_info(reply.as_string());
}

std::optional<std::vector<Reply>> Client::transaction(const std::function<void(Transaction&)>& body,
                                                      std::span<const std::string> watch) {
  std::optional<std::vector<Reply>> result;
  impl_->run("TRANSACTION", Impl::Repeat::never, {}, [&](Connection& connection) {
    if (!watch.empty()) {
      std::vector<Arg> args{"WATCH"};
      args.insert(args.end(), watch.begin(), watch.end());
      connection.command(std::span<const Arg>(args));
    }
    Transaction transaction(connection);
    try {
      body(transaction);
    } catch (...) {
      if (!watch.empty() && !connection.broken()) connection.command("UNWATCH");
      throw;
    }
    connection.append(std::vector<Arg>{"MULTI"});
    for (const auto& queued : transaction.queued_) connection.append(to_args(queued));
    connection.append(std::vector<Arg>{"EXEC"});
    connection.flush();
    // MULTI's OK and one QUEUED per command; a command Redis refused to queue shows up again as
    // EXEC's EXECABORT error, which names it.
    for (std::size_t i = 0; i <= transaction.queued_.size(); ++i) connection.read_reply();
    Reply exec = connection.read_reply();
    if (exec.is_error()) {
      throw ServerError(Backend::redis,
                        fmt::format("{} (Redis at {}, MULTI/EXEC)", exec.error_text(), address()));
    }
    if (!exec.is_nil()) result = exec.as_array();
  });
  return result;
}

Transaction& Transaction::queue(std::span<const Arg> args) {
  auto& words = queued_.emplace_back();
  for (const Arg& arg : args) words.emplace_back(arg.view());
  return *this;
}

Pipeline& Pipeline::add(std::span<const Arg> args) {
  auto& words = commands_.emplace_back();
  for (const Arg& arg : args) words.emplace_back(arg.view());
  return *this;
}

std::vector<Reply> Pipeline::execute() {
  auto commands = std::exchange(commands_, {});
  bool every_command_idempotent = true;
  for (const auto& words : commands) {
    every_command_idempotent = every_command_idempotent && is_idempotent(to_args(words));
  }
  std::vector<Reply> replies;
  client_->impl_->run(
      "PIPELINE",
      every_command_idempotent ? Client::Impl::Repeat::always : Client::Impl::Repeat::never, {},
      [&](Connection& connection) {
        replies.clear();
        for (const auto& words : commands) connection.append(to_args(words));
        connection.flush();
        for (std::size_t i = 0; i < commands.size(); ++i) {
          replies.push_back(connection.read_reply());
        }
      });
  return replies;
}

void detail::ClientAccess::run(Client& client, std::string_view name,
                               const std::function<bool(Connection&)>& fn) {
  bool error_reply = false;
  client.impl_->run(
      name, Client::Impl::Repeat::never, {},
      [&](Connection& connection) { error_reply = fn(connection); }, &error_reply);
}

Connection Client::open_unpooled() {
  return detail::open_connection(impl_->endpoint, Clock::now() + impl_->endpoint->connect_timeout);
}

ClientStats Client::stats() const {
  ClientStats stats;
  stats.pool = impl_->pool.stats();
  stats.commands = impl_->operations.snapshot();
  stats.retries = impl_->retries.load(std::memory_order_relaxed);
  stats.pool_clears = impl_->pool_clears.load(std::memory_order_relaxed);
  stats.closed_while_idle = impl_->closed_while_idle.load(std::memory_order_relaxed);
  if (const auto& tls = impl_->endpoint->tls) {
    stats.tls_full_handshakes = tls->full_handshakes();
    stats.tls_resumed_handshakes = tls->resumed_handshakes();
  }
  return stats;
}

void Client::clear() {
  impl_->pool.clear();
}

void Client::close() {
  impl_->pool.close();
}

const std::string& Client::address() const noexcept {
  return impl_->endpoint->address;
}

RedisSettings detail::settings_of_node_options(std::string_view url, RedisMode mode,
                                               const Options& node) {
  RedisSettings settings;
  settings.url = parse_url(url);
  settings.mode = mode;
  settings.max_connections = node.max_connections;
  settings.connect_timeout = node.connect_timeout;
  settings.socket_timeout = node.socket_timeout;
  settings.health_check_interval = node.health_check_interval;
  settings.wait_timeout = node.wait_timeout;
  settings.retry_attempts = node.retry_attempts;
  settings.client_name = node.client_name;
  settings.max_reply_bytes = node.max_reply_bytes;
  settings.tls = node.tls;
  return settings;
}

}  // namespace poolkit::redis
