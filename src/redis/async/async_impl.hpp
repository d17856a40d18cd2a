#pragma once
// The async client's insides: the queue callers fill, and the I/O thread that owns the
// multiplexed connections, writes every queued command in one write per connection and turn,
// and matches replies in order (Redis answers each connection's commands in order).

#include <hiredis/read.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../client_access.hpp"
#include "../connection_state.hpp"
#include "../endpoint.hpp"
#include "../reply_scanner.hpp"
#include "call_state.hpp"
#include "poolkit/backoff.hpp"
#include "poolkit/operation_stats.hpp"
#include "poolkit/redis_async.hpp"

namespace poolkit::redis::detail {

using Clock = std::chrono::steady_clock;

// One command on its way: queued by a caller, written by the I/O thread, answered in order.
struct Queued {
  std::string bytes;  // the command in RESP, kept until answered (resent after a loss)
  CallHandle call;    // null: the I/O thread's own PING (a health check)
  Clock::time_point submitted;
  Clock::time_point deadline;  // REDIS_SOCKET_TIMEOUT after it was queued
  std::uint64_t end = 0;       // the connection's bytes written once this command is
  MetricName name;
  std::size_t affinity = 0;  // the caller's thread, hashed: picks the connection
  bool holds_slot = false;   // a caller's command (REDIS_MAX_PENDING counts it)
  bool idempotent = false;
  bool abandoned = false;  // timed out: its reply, when it comes, is read and dropped
  int retries = 0;         // times resent after a loss
};

struct ReaderDeleter {
  void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};

// One of the REDIS_MULTIPLEX_CONNECTIONS connections, touched by the I/O thread only.
struct MuxConnection {
  explicit MuxConnection(std::size_t max_reply_bytes)
      : scanner(ReplyLimits{.max_reply_bytes = max_reply_bytes}) {}

  bool open() const noexcept { return connection.has_value(); }
  std::size_t load() const noexcept { return unwritten.size() + in_flight.size(); }
  bool wants_write() const noexcept { return out_sent < out.size(); }

  std::optional<Connection> connection;  // open, authenticated (redis::Client's handshake)
  int fd = -1;
  TlsStream* tls = nullptr;  // inside `connection`; rediss:// only

  std::deque<Queued> unwritten;      // FIFO, not yet in `out`
  std::deque<Queued> in_flight;      // FIFO, in `out` (maybe partly sent) or sent, reply unread
  std::size_t abandoned_prefix = 0;  // in_flight's first entries already timed out

  std::string out;  // the current write: every command taken in one turn
  std::size_t out_sent = 0;
  std::uint64_t bytes_queued = 0;  // bytes ever put in `out` on this connection
  std::uint64_t bytes_sent = 0;

  std::unique_ptr<char[]> buffer = std::make_unique_for_overwrite<char[]>(kReceiveChunk);
  std::size_t scanned = 0;
  std::size_t received = 0;
  ReplyScanner scanner;
  std::unique_ptr<redisReader, ReaderDeleter> reader;  // replies the fast path leaves (arrays)

  int failed_connects = 0;
  Clock::time_point next_connect{};  // backoff after a failed connect or a loss
  std::string last_error;            // why the last connect failed
  Clock::time_point last_activity = Clock::now();
  bool ever_opened = false;
};

// Why a command cannot share a multiplexed connection (naming the pooled client's way to run
// it); empty when it can.
std::string_view async_refusal(std::span<const Arg> args) noexcept;

// A whole reply the scanner accepted: parsed in place when it is a scalar (status, error,
// integer, bulk string, nil); nullopt for an array, which hiredis builds.
std::optional<Reply> parse_scalar_reply(std::string_view bytes);

// Counters the I/O thread writes and stats() reads.
struct AsyncCounters {
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> connected{0};
  std::atomic<std::uint64_t> writes{0};
  std::atomic<std::uint64_t> batched_commands{0};
  std::atomic<std::uint64_t> max_batch{0};
  std::array<std::atomic<std::uint64_t>, 16> batch_histogram{};
  std::atomic<std::uint64_t> reconnects{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> pending_waits{0};
  std::atomic<std::uint64_t> pending_timeouts{0};
  std::atomic<std::uint64_t> late_replies{0};
};

}  // namespace poolkit::redis::detail

namespace poolkit::redis {

struct AsyncClient::Impl {
  Impl(const RedisSettings& settings, AsyncOptions options);
  ~Impl();

  // --- the callers' side (any thread) ---
  // Takes a pending slot (waiting for one up to REDIS_WAIT_TIMEOUT), then queues the command.
  // `after_asking`: an ASKING (reply dropped) goes just before it, on the same connection.
  void submit(detail::Queued queued, bool after_asking = false);
  void acquire_slot();
  void release_slots(std::uint64_t count) noexcept;
  void close();

  // --- the I/O thread ---
  void run() noexcept;
  void take_incoming();
  void assign(detail::Queued queued);
  void connect(detail::MuxConnection& connection);
  void write(detail::MuxConnection& connection);
  void read(detail::MuxConnection& connection);
  bool parse_replies(detail::MuxConnection& connection);
  void deliver(detail::MuxConnection& connection, Reply reply);
  void expire(detail::MuxConnection& connection, detail::Clock::time_point now);
  void check_health(detail::MuxConnection& connection, detail::Clock::time_point now);
  // The connection is gone: requeue what may be resent, fail the rest, reconnect later.
  void lose(detail::MuxConnection& connection, const std::string& why);
  void fail_unwritten(detail::MuxConnection& connection, const std::string& why);
  void finish(detail::Queued& queued, Reply reply);
  void finish(detail::Queued& queued, std::exception_ptr error, std::string_view outcome);
  int poll_timeout(detail::Clock::time_point now) const;
  bool wants_connection(const detail::MuxConnection& connection) const;
  void wake() noexcept;
  void shut_down() noexcept;

  AsyncOptions options;
  std::shared_ptr<const detail::Endpoint> endpoint;
  OperationStats operations;
  detail::AsyncCounters counters;
  Backoff reconnect_backoff{.base = std::chrono::milliseconds(10),
                            .cap = std::chrono::milliseconds(250),
                            .jitter = std::chrono::milliseconds(0),
                            .jitter_ratio = 0.5};

  std::mutex mutex;
  std::condition_variable slot_freed;
  std::vector<detail::Queued> incoming;  // guarded by mutex
  bool closed = false;                   // guarded by mutex
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> pending{0};
  std::atomic<std::uint32_t> slot_waiters{0};
  std::atomic<bool> loop_asleep{false};
  int wake_fd = -1;

  std::vector<detail::Queued> taken;  // the I/O thread's swap partner for `incoming`
  std::vector<std::unique_ptr<detail::MuxConnection>> connections;
  std::mutex join_mutex;  // one close() joins the I/O thread, the others wait for it
  std::thread io_thread;
  std::thread::id io_thread_id;
};

}  // namespace poolkit::redis
