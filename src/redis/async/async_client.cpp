// The async client's callers' side: options from the settings, the commands it refuses, the
// pending bound.

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>

#include "../../core/ascii.hpp"
#include "../../core/settings_url.hpp"
#include "../../core/shared_fields.hpp"
#include "async_impl.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::redis {
namespace {

using detail::as_reply;

using detail::Clock;

using poolkit::detail::equals_ignoring_case;

// The fields RedisSettings and AsyncOptions share (settings member, options member).
const auto kSharedFields = std::make_tuple(
    std::pair{&RedisSettings::connect_timeout, &AsyncOptions::connect_timeout},
    std::pair{&RedisSettings::socket_timeout, &AsyncOptions::socket_timeout},
    std::pair{&RedisSettings::health_check_interval, &AsyncOptions::health_check_interval},
    std::pair{&RedisSettings::wait_timeout, &AsyncOptions::wait_timeout},
    std::pair{&RedisSettings::retry_attempts, &AsyncOptions::retry_attempts},
    std::pair{&RedisSettings::client_name, &AsyncOptions::client_name},
    std::pair{&RedisSettings::max_reply_bytes, &AsyncOptions::max_reply_bytes},
    std::pair{&RedisSettings::multiplex_connections, &AsyncOptions::multiplex_connections},
    std::pair{&RedisSettings::max_pending, &AsyncOptions::max_pending},
    std::pair{&RedisSettings::tls, &AsyncOptions::tls});

RedisSettings settings_of(Url url, const AsyncOptions& options) {
  RedisSettings settings;
  settings.url = std::move(url);
  poolkit::detail::copy_to_settings(settings, options, kSharedFields);
  return settings;
}

std::size_t thread_affinity() noexcept {
  thread_local const std::size_t hash = std::hash<std::thread::id>{}(std::this_thread::get_id());
  return hash;
}

}  // namespace

namespace detail {

// Why a command cannot share a multiplexed connection; empty when it can.
std::string_view async_refusal(std::span<const Arg> args) noexcept {
  const std::string_view name = args.front().view();
  auto is = [&](std::initializer_list<std::string_view> names) {
    return std::any_of(names.begin(), names.end(), [&](std::string_view candidate) {
      return equals_ignoring_case(name, candidate);
    });
  };
  if (is({"MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH"})) {
    return "a transaction holds the connection between its commands, and every caller shares "
           "it; use redis::Client::transaction()";
  }
  if (is({"BLPOP", "BRPOP", "BRPOPLPUSH", "BLMOVE", "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP",
          "WAIT", "WAITAOF"}) ||
      (is({"XREAD", "XREADGROUP"}) && has_option(args, "BLOCK"))) {
    return "it blocks the connection, and with it every other caller's replies; use "
           "redis::Client::with_connection()";
  }
  if (is({"SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
          "MONITOR", "SYNC", "PSYNC"})) {
    return "it turns the connection into a stream of messages; use "
           "redis::Client::with_connection()";
  }
  if (is({"SELECT", "AUTH", "HELLO", "RESET", "QUIT"}) ||
      (is({"CLIENT"}) && args.size() > 1 && equals_ignoring_case(args[1].view(), "REPLY"))) {
    return "it changes the shared connection's state for every caller (set the database, user "
           "and client name in the client's settings instead); use "
           "redis::Client::with_connection() for a connection of your own";
  }
  return {};
}

}  // namespace detail

AsyncOptions AsyncOptions::from(const RedisSettings& settings, AsyncOptions rest) {
  const AsyncOptions defaults;
  poolkit::detail::copy_to_options(rest, settings, kSharedFields);
  // Settings built by hand leave these at zero: the table's defaults apply.
  if (rest.multiplex_connections == 0) rest.multiplex_connections = defaults.multiplex_connections;
  if (rest.max_pending == 0) rest.max_pending = defaults.max_pending;
  if (rest.max_reply_bytes == 0) rest.max_reply_bytes = defaults.max_reply_bytes;
  return rest;
}

AsyncOptions AsyncOptions::from(const RedisSettings& settings) {
  return from(settings, AsyncOptions{});
}

AsyncClient::Impl::Impl(const RedisSettings& settings, AsyncOptions given)
    : options(std::move(given)) {
  detail::Endpoint made = detail::make_endpoint(settings, options.resume_tls_sessions);
  made.max_reply_bytes = options.max_reply_bytes;
  endpoint = std::make_shared<const detail::Endpoint>(std::move(made));
  wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    throw ConnectError(Backend::redis, fmt::format("the async Redis client could not create its "
                                                   "wake-up eventfd: {}",
                                                   strerrordesc_np(errno)));
  }
  for (std::size_t i = 0; i < options.multiplex_connections; ++i) {
    connections.push_back(std::make_unique<detail::MuxConnection>(options.max_reply_bytes));
  }
  io_thread = std::thread([this] { run(); });
  io_thread_id = io_thread.get_id();
}

AsyncClient::Impl::~Impl() {
  close();
  if (wake_fd >= 0) ::close(wake_fd);
}

// From a callback (the I/O thread) it only stops the loop, which ends after this turn; the
// thread is joined by the next close() from elsewhere, or the destructor.
void AsyncClient::Impl::close() {
  bool first = false;
  {
    const std::lock_guard lock(mutex);
    first = !closed;
    closed = true;
  }
  if (first) {
    slot_freed.notify_all();
    stopping.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto ignored = ::write(wake_fd, &one, sizeof one);
  }
  if (std::this_thread::get_id() == io_thread_id) return;
  const std::lock_guard lock(join_mutex);
  if (io_thread.joinable()) io_thread.join();
}

void AsyncClient::Impl::acquire_slot() {
  const std::uint64_t limit = options.max_pending;
  auto try_take = [&] {
    std::uint64_t seen = pending.load(std::memory_order_relaxed);
    while (seen < limit) {
      if (pending.compare_exchange_weak(seen, seen + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  };
  if (try_take()) return;
  auto too_many = [&](std::string_view waited) {
    counters.pending_timeouts.fetch_add(1, std::memory_order_relaxed);
    return PoolTimeoutError(
        Backend::redis,
        fmt::format("{} commands pending in the async Redis client for {}, the limit {}={}; {}; "
                    "raise {} (or {}) if the server keeps up, or send fewer commands at once",
                    pending.load(std::memory_order_relaxed), endpoint->address,
                    setting::kRedisMaxPending, limit, waited, setting::kRedisMaxPending,
                    setting::kRedisMultiplexConnections));
  };
  if (std::this_thread::get_id() == io_thread_id) {
    // A callback or a coroutine resumed on the I/O thread must not wait: only this thread
    // frees slots.
    throw too_many("a caller on the I/O thread cannot wait for a slot");
  }
  counters.pending_waits.fetch_add(1, std::memory_order_relaxed);
  const auto deadline = Clock::now() + options.wait_timeout;
  std::unique_lock lock(mutex);
  slot_waiters.fetch_add(1, std::memory_order_seq_cst);
  bool got_slot = false;
  while (!(got_slot = try_take()) && !closed) {
    if (slot_freed.wait_until(lock, deadline) == std::cv_status::timeout) {
      got_slot = try_take();
      break;
    }
  }
  slot_waiters.fetch_sub(1, std::memory_order_seq_cst);
  if (got_slot) return;
  if (closed) {
    throw PoolClosedError(
        Backend::redis, fmt::format("the async Redis client for {} is closed", endpoint->address));
  }
  throw too_many(fmt::format("none freed within {} ({} ms)", setting::kRedisWaitTimeout,
                             options.wait_timeout.count()));
}

void AsyncClient::Impl::release_slots(std::uint64_t count) noexcept {
  if (count == 0) return;
  pending.fetch_sub(count, std::memory_order_acq_rel);
  if (slot_waiters.load(std::memory_order_seq_cst) > 0) {
    const std::lock_guard lock(mutex);
    slot_freed.notify_all();
  }
}

void AsyncClient::Impl::submit(detail::Queued queued, bool after_asking) {
  acquire_slot();
  queued.holds_slot = true;
  detail::Queued asking;
  if (after_asking) {
    const Arg args[] = {Arg("ASKING")};
    detail::append_command(asking.bytes, args);
    asking.name = detail::MetricName(args);
    asking.affinity = queued.affinity;
    asking.submitted = queued.submitted;
    asking.deadline = queued.deadline;
    asking.idempotent = true;
  }
  {
    const std::lock_guard lock(mutex);
    if (!closed) {
      // Taken together by the I/O thread, both land on the same connection, in this order.
      if (after_asking) incoming.push_back(std::move(asking));
      incoming.push_back(std::move(queued));
      queued.call = nullptr;
    }
  }
  if (queued.call != nullptr) {
    release_slots(1);
    throw PoolClosedError(
        Backend::redis, fmt::format("the async Redis client for {} is closed", endpoint->address));
  }
  wake();
}

AsyncClient::AsyncClient(std::string_view url, AsyncOptions options)
    : impl_(std::make_unique<Impl>(
          settings_of(poolkit::detail::parse_layer_url(Layer::redis, url), options),
          std::move(options))) {}

AsyncClient::AsyncClient(const RedisSettings& settings, AsyncOptions options)
    : impl_(std::make_unique<Impl>(settings, AsyncOptions::from(settings, std::move(options)))) {}

AsyncClient::~AsyncClient() = default;

// A callback's command is handed over with the callback already registered (one owner: the
// queue); any other's with two owners (the queue and the caller's handle).
detail::CallHandle AsyncClient::submit(std::span<const Arg> args) {
  return submit(args, nullptr);
}

detail::CallHandle AsyncClient::submit(std::span<const Arg> args, Callback* callback,
                                       bool after_asking) {
  if (args.empty()) {
    throw ConfigError("an async Redis command needs at least its name; none was given");
  }
  if (const std::string_view why = detail::async_refusal(args); !why.empty()) {
    throw ConfigError(fmt::format("{} is refused by the async Redis client: {}",
                                  detail::MetricName(args).view(), why));
  }
  detail::Queued queued;
  detail::append_command(queued.bytes, args);
  queued.name = detail::MetricName(args);
  queued.idempotent = is_idempotent(args);
  queued.affinity = thread_affinity();
  queued.submitted = Clock::now();
  queued.deadline = queued.submitted + impl_->options.socket_timeout;
  const Executor* executor = impl_->options.executor ? &impl_->options.executor : nullptr;
  detail::CallState* state =
      detail::CallState::make(callback != nullptr ? 1 : 2, impl_->io_thread_id, executor);
  queued.call = detail::adopt(state);
  if (callback != nullptr) {
    state->then([callback = std::move(*callback)](detail::CallState& done) {
      callback(AsyncResult(done));
    });
  }
  // The caller's handle first, so a refusal below (closed, no slot in time) releases both.
  detail::CallHandle callers = callback != nullptr ? detail::CallHandle() : detail::adopt(state);
  impl_->submit(std::move(queued), after_asking);
  return callers;
}

void detail::send_after_asking(AsyncClient& client, std::span<const Arg> args, Callback callback) {
  client.submit(args, &callback, true);
}

std::future<Reply> AsyncClient::send(std::span<const Arg> args) {
  return async_command(args).future();
}

void AsyncClient::send(std::span<const Arg> args, Callback callback) {
  submit(args, &callback);
}

Awaitable<Reply> AsyncClient::async_command(std::span<const Arg> args) {
  return Awaitable<Reply>(submit(args), &as_reply);
}

std::chrono::microseconds AsyncClient::ping() {
  const auto started = Clock::now();
  command("PING");
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
}

AsyncClientStats AsyncClient::stats() const {
  const detail::AsyncCounters& counters = impl_->counters;
  auto read = [](const std::atomic<std::uint64_t>& counter) {
    return counter.load(std::memory_order_relaxed);
  };
  AsyncClientStats stats;
  stats.connections = impl_->options.multiplex_connections;
  stats.connected = read(counters.connected);
  stats.pending = read(impl_->pending);
  stats.in_flight = read(counters.in_flight);
  stats.writes = read(counters.writes);
  stats.batched_commands = read(counters.batched_commands);
  stats.max_batch = read(counters.max_batch);
  for (const auto& bucket : counters.batch_histogram) stats.batch_histogram.push_back(read(bucket));
  stats.reconnects = read(counters.reconnects);
  stats.retries = read(counters.retries);
  stats.pending_waits = read(counters.pending_waits);
  stats.pending_timeouts = read(counters.pending_timeouts);
  stats.late_replies = read(counters.late_replies);
  if (impl_->endpoint->tls) {
    stats.tls_full_handshakes = impl_->endpoint->tls->full_handshakes();
    stats.tls_resumed_handshakes = impl_->endpoint->tls->resumed_handshakes();
  }
  stats.commands = impl_->operations.snapshot();
  return stats;
}

bool AsyncClient::on_io_thread() const noexcept {
  return std::this_thread::get_id() == impl_->io_thread_id;
}

void AsyncClient::close() {
  impl_->close();
}

const std::string& AsyncClient::address() const noexcept {
  return impl_->endpoint->address;
}

}  // namespace poolkit::redis
