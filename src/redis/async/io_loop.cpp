// The async client's I/O thread: one poll() loop over the wake-up eventfd and the multiplexed
// connections. Each turn it takes everything callers queued, writes each connection's share in
// one send (one SSL_write run over TLS), reads whatever replies arrived and hands each to the
// oldest command waiting on that connection.

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "async_impl.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::redis {
namespace {

using detail::Clock;
using detail::MuxConnection;
using detail::Queued;

long long milliseconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

std::size_t histogram_bucket(std::size_t batch) {
  return std::min<std::size_t>(std::bit_width(batch) - 1, 15);
}

}  // namespace

namespace detail {
// A whole scalar reply (status, error, integer, bulk string or nil), parsed in place: most
// replies of a multiplexed connection are these, and they need no trip through hiredis.
std::optional<Reply> parse_scalar_reply(std::string_view bytes) {
  const std::string_view body = bytes.substr(1, bytes.size() - 3);  // without type and CRLF
  switch (bytes.front()) {
    case '+':
      return Reply::status(std::string(body));
    case '-':
      return Reply::error(std::string(body));
    case ':': {
      long long value = 0;
      std::from_chars(body.data(), body.data() + body.size(), value);
      return Reply::integer(value);
    }
    case '$': {
      if (body.starts_with('-')) return Reply();  // $-1: nil
      const std::size_t line_end = bytes.find('\r');
      return Reply::string(std::string(bytes.substr(line_end + 2, bytes.size() - line_end - 4)));
    }
    default:
      return std::nullopt;  // an array: hiredis builds it
  }
}

}  // namespace detail

void AsyncClient::Impl::run() noexcept {
  std::vector<pollfd> descriptors;
  while (!stopping.load(std::memory_order_acquire)) {
    take_incoming();
    auto now = Clock::now();
    for (auto& connection : connections) {
      if (!connection->open() && now >= connection->next_connect && wants_connection(*connection)) {
        connect(*connection);
      }
      if (connection->open()) check_health(*connection, now);
      if (connection->open() && (!connection->unwritten.empty() || connection->wants_write())) {
        write(*connection);
      }
    }

    descriptors.clear();
    descriptors.push_back(pollfd{.fd = wake_fd, .events = POLLIN, .revents = 0});
    for (auto& connection : connections) {
      const short events =
          connection->open()
              ? static_cast<short>(POLLIN | (connection->wants_write() ? POLLOUT : 0))
              : 0;
      descriptors.push_back(pollfd{.fd = connection->fd, .events = events, .revents = 0});
    }
    int timeout = poll_timeout(now);
    // Callers write the eventfd only when the loop may sleep: announce it, then look once more.
    loop_asleep.store(true, std::memory_order_seq_cst);
    {
      const std::lock_guard lock(mutex);
      if (!incoming.empty()) timeout = 0;
    }
    for (auto& connection : connections) {
      if (connection->tls != nullptr && connection->tls->has_buffered()) timeout = 0;
    }
    ::poll(descriptors.data(), descriptors.size(), timeout);
    loop_asleep.store(false, std::memory_order_seq_cst);
    if ((descriptors[0].revents & POLLIN) != 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto ignored = ::read(wake_fd, &count, sizeof count);
    }
    for (std::size_t i = 0; i < connections.size(); ++i) {
      MuxConnection& connection = *connections[i];
      const short revents = descriptors[i + 1].revents;
      const bool buffered = connection.tls != nullptr && connection.tls->has_buffered();
      if (connection.open() && ((revents & (POLLIN | POLLERR | POLLHUP)) != 0 || buffered)) {
        read(connection);
      }
      if (connection.open() && (revents & POLLOUT) != 0) write(connection);
    }
    now = Clock::now();
    for (auto& connection : connections) expire(*connection, now);
  }
  shut_down();
}

void AsyncClient::Impl::take_incoming() {
  {
    const std::lock_guard lock(mutex);
    taken.swap(incoming);
  }
  for (Queued& queued : taken) assign(std::move(queued));
  taken.clear();
}

// A caller's commands all go to one connection (chosen by its thread), so what one thread
// queues is written, and run, in the order it queued it; another connection stands in while
// that one is down.
void AsyncClient::Impl::assign(Queued queued) {
  MuxConnection* chosen = connections[queued.affinity % connections.size()].get();
  if (!chosen->open()) {
    for (auto& other : connections) {
      if (other->open()) {
        chosen = other.get();
        break;
      }
    }
  }
  chosen->unwritten.push_back(std::move(queued));
}

void AsyncClient::Impl::connect(MuxConnection& connection) {
  try {
    connection.connection.emplace(
        detail::open_connection(endpoint, Clock::now() + options.connect_timeout));
  } catch (const Error& error) {
    connection.last_error = error.what();
    ++connection.failed_connects;
    connection.next_connect = Clock::now() + reconnect_backoff.delay(connection.failed_connects);
    // Nothing can be sent until a connection opens: after REDIS_RETRY_ATTEMPTS failed tries,
    // its waiting commands fail now rather than at their deadline.
    if (connection.failed_connects > options.retry_attempts) {
      fail_unwritten(connection, std::make_exception_ptr(ConnectError(
                                     Backend::redis,
                                     fmt::format("{} ({} attempts to connect failed; the command "
                                                 "was not sent)",
                                                 error.what(), connection.failed_connects))));
    }
    return;
  }
  if (connection.ever_opened) counters.reconnects.fetch_add(1, std::memory_order_relaxed);
  connection.ever_opened = true;
  connection.failed_connects = 0;
  connection.fd = connection.connection->native()->fd;
  connection.tls = detail::ConnectionAccess::tls_stream(*connection.connection);
  connection.reader.reset(redisReaderCreate());
  connection.scanner = detail::ReplyScanner(connection.scanner.limits());
  connection.scanned = connection.received = 0;
  connection.out.clear();
  connection.out_sent = 0;
  connection.last_activity = Clock::now();
  counters.connected.fetch_add(1, std::memory_order_relaxed);
}

// Everything queued for the connection goes into one buffer and one send: the automatic
// pipelining. A partial send leaves the rest for the next turn (POLLOUT).
void AsyncClient::Impl::write(MuxConnection& connection) {
  if (!connection.wants_write()) {
    connection.out.clear();
    connection.out_sent = 0;
  }
  const std::size_t batch = connection.unwritten.size();
  if (batch > 0) {
    for (Queued& queued : connection.unwritten) {
      connection.out += queued.bytes;
      connection.bytes_queued += queued.bytes.size();
      queued.end = connection.bytes_queued;
      connection.in_flight.push_back(std::move(queued));
    }
    connection.unwritten.clear();
    counters.in_flight.fetch_add(batch, std::memory_order_relaxed);
    counters.writes.fetch_add(1, std::memory_order_relaxed);
    counters.batched_commands.fetch_add(batch, std::memory_order_relaxed);
    counters.batch_histogram[histogram_bucket(batch)].fetch_add(1, std::memory_order_relaxed);
    if (batch > counters.max_batch.load(std::memory_order_relaxed)) {
      counters.max_batch.store(batch, std::memory_order_relaxed);
    }
  }
  while (connection.wants_write()) {
    const char* data = connection.out.data() + connection.out_sent;
    const std::size_t size = connection.out.size() - connection.out_sent;
    std::size_t sent = 0;
    if (connection.tls != nullptr) {
      const auto step = connection.tls->write(data, size);
      if (step.io == detail::TlsStream::Io::want_write ||
          step.io == detail::TlsStream::Io::want_read)
        return;
      if (step.io != detail::TlsStream::Io::done) {
        return lose(connection, fmt::format("writing to it: {}", connection.tls->failure().cause));
      }
      sent = step.bytes;
    } else {
      const ssize_t n = ::send(connection.fd, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n < 0) return lose(connection, fmt::format("writing to it: {}", strerrordesc_np(errno)));
      sent = static_cast<std::size_t>(n);
    }
    connection.out_sent += sent;
    connection.bytes_sent += sent;
    connection.last_activity = Clock::now();
  }
}

void AsyncClient::Impl::read(MuxConnection& connection) {
  for (int round = 0; round < 64 && connection.open(); ++round) {
    std::size_t got = 0;
    if (connection.tls != nullptr) {
      const auto step = connection.tls->read(connection.buffer.get(), detail::kReceiveChunk);
      if (step.io == detail::TlsStream::Io::want_read ||
          step.io == detail::TlsStream::Io::want_write)
        return;
      if (step.io != detail::TlsStream::Io::done) {
        return lose(connection,
                    fmt::format("reading from it: {}", connection.tls->failure().cause));
      }
      got = step.bytes;
    } else {
      const ssize_t n =
          ::recv(connection.fd, connection.buffer.get(), detail::kReceiveChunk, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
      if (n <= 0) {
        return lose(connection, n == 0
                                    ? std::string("the server closed the connection")
                                    : fmt::format("reading from it: {}", strerrordesc_np(errno)));
      }
      got = static_cast<std::size_t>(n);
    }
    connection.scanned = 0;
    connection.received = got;
    connection.last_activity = Clock::now();
    if (!parse_replies(connection)) return;
    if (got < detail::kReceiveChunk) return;  // drained
  }
}

// The scanner checks each reply against REDIS_MAX_REPLY_BYTES and RESP's shape before anything
// is allocated for it; a scalar reply whole in the buffer is parsed in place, the rest by hiredis.
bool AsyncClient::Impl::parse_replies(MuxConnection& connection) {
  while (connection.scanned < connection.received) {
    const std::string_view fresh(connection.buffer.get() + connection.scanned,
                                 connection.received - connection.scanned);
    const bool at_start = !connection.scanner.in_reply();
    const auto result = connection.scanner.feed(fresh);
    if (result.status == detail::ReplyScanner::Status::violation) {
      lose(connection,
           fmt::format("its reply broke a limit ({}={} bytes, or RESP's shape): {}",
                       setting::kRedisMaxReplyBytes, connection.scanner.limits().max_reply_bytes,
                       connection.scanner.violation_detail()));
      return false;
    }
    const std::string_view part = fresh.substr(0, result.consumed);
    connection.scanned += result.consumed;
    if (result.status == detail::ReplyScanner::Status::complete && at_start) {
      if (std::optional<Reply> reply = detail::parse_scalar_reply(part)) {
        deliver(connection, std::move(*reply));
        if (!connection.open()) return false;
        continue;
      }
    }
    if (redisReaderFeed(connection.reader.get(), part.data(), part.size()) != REDIS_OK) {
      lose(connection, "hiredis could not take the reply's bytes");
      return false;
    }
    if (result.status != detail::ReplyScanner::Status::complete) continue;
    void* raw = nullptr;
    if (redisReaderGetReply(connection.reader.get(), &raw) != REDIS_OK || raw == nullptr) {
      lose(connection, "hiredis could not parse a reply the scanner accepted");
      return false;
    }
    Reply reply = detail::reply_from_hiredis(*static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    deliver(connection, std::move(reply));
    if (!connection.open()) return false;
  }
  return true;
}

// Replies come in the order the commands were written: this one is the oldest's.
void AsyncClient::Impl::deliver(MuxConnection& connection, Reply reply) {
  if (connection.in_flight.empty()) {
    return lose(connection, "a reply came for no command sent (the connection is out of step)");
  }
  Queued queued = std::move(connection.in_flight.front());
  connection.in_flight.pop_front();
  counters.in_flight.fetch_sub(1, std::memory_order_relaxed);
  if (connection.abandoned_prefix > 0) --connection.abandoned_prefix;
  if (queued.abandoned) {
    counters.late_replies.fetch_add(1, std::memory_order_relaxed);
    if (queued.holds_slot) release_slots(1);
    return;
  }
  finish(queued, std::move(reply));
}

// The slot is freed before the waiter runs, so a callback (or a coroutine resumed here) that
// sends its next command finds it free; and stats() read after a reply shows it.
void AsyncClient::Impl::finish(Queued& queued, Reply reply) {
  if (queued.call == nullptr) return;  // our own health check
  const auto elapsed = Clock::now() - queued.submitted;
  release_slots(1);
  if (reply.is_error()) {
    operations.record(queued.name.view(), to_string(ErrorCode::server), elapsed);
    queued.call->fail(std::make_exception_ptr(
        ServerError(Backend::redis, fmt::format("{} (Redis at {}, command {})", reply.error_text(),
                                                endpoint->address, queued.name.view()))));
  } else {
    operations.record(queued.name.view(), "ok", elapsed);
    queued.call->complete(std::move(reply));
  }
  queued.call.reset();
}

void AsyncClient::Impl::finish(Queued& queued, const std::exception_ptr& error,
                               std::string_view outcome) {
  if (queued.call == nullptr) return;
  operations.record(queued.name.view(), outcome, Clock::now() - queued.submitted);
  // A timed-out command keeps its slot until its reply is read (or its connection lost): it is
  // still in flight.
  if (!queued.abandoned) release_slots(1);
  queued.call->fail(error);
  queued.call.reset();
}

// A command past its deadline fails with TimeoutError; if it was written, it stays in the queue
// as abandoned so its reply, when it comes, is matched and dropped. A connection whose oldest
// reply is a whole REDIS_SOCKET_TIMEOUT later still is treated as lost.
void AsyncClient::Impl::expire(MuxConnection& connection, Clock::time_point now) {
  auto timeout_error = [&](const Queued& queued, bool written) {
    return std::make_exception_ptr(TimeoutError(
        Backend::redis,
        fmt::format("{} to Redis at {} got no reply within {} ({} ms; it waited {} ms{}); later "
                    "commands on the connection still get their own replies; raise {} if the "
                    "server is slow rather than gone",
                    queued.name.view(), endpoint->address, setting::kRedisSocketTimeout,
                    options.socket_timeout.count(), milliseconds_between(queued.submitted, now),
                    written ? std::string(", after it was written: it may have run")
                    : connection.open()
                        ? std::string()
                        : fmt::format(", not sent: no connection ({})", connection.last_error),
                    setting::kRedisSocketTimeout),
        written ? Sent::maybe : Sent::no));
  };
  auto& in_flight = connection.in_flight;
  while (connection.abandoned_prefix < in_flight.size()) {
    Queued& queued = in_flight[connection.abandoned_prefix];
    if (queued.deadline > now) break;
    if (!queued.abandoned) {
      queued.abandoned = true;
      finish(queued, timeout_error(queued, true), to_string(ErrorCode::timeout));
    }
    ++connection.abandoned_prefix;
  }
  while (!connection.unwritten.empty() && connection.unwritten.front().deadline <= now) {
    Queued queued = std::move(connection.unwritten.front());
    connection.unwritten.pop_front();
    finish(queued, timeout_error(queued, false), to_string(ErrorCode::timeout));
  }
  if (!in_flight.empty() && in_flight.front().deadline + options.socket_timeout <= now) {
    lose(connection, fmt::format("no reply for {} ms, twice {}", 2 * options.socket_timeout.count(),
                                 setting::kRedisSocketTimeout));
  }
}

// An idle connection is PINGed every REDIS_HEALTH_CHECK_INTERVAL, so a dead one is found
// before a caller's command is written to it.
void AsyncClient::Impl::check_health(MuxConnection& connection, Clock::time_point now) {
  if (options.health_check_interval.count() == 0 || connection.load() > 0) return;
  if (now - connection.last_activity < options.health_check_interval) return;
  Queued ping;
  const Arg args[] = {Arg("PING")};
  detail::append_command(ping.bytes, args);
  ping.submitted = now;
  ping.deadline = now + options.socket_timeout;
  ping.idempotent = true;
  connection.last_activity = now;
  connection.unwritten.push_back(std::move(ping));
}

void AsyncClient::Impl::lose(MuxConnection& connection, const std::string& why) {
  const std::string lost =
      fmt::format("lost the connection to Redis at {}: {}", endpoint->address, why);
  connection.connection.reset();
  connection.fd = -1;
  connection.tls = nullptr;
  connection.reader.reset();
  connection.out.clear();
  connection.out_sent = 0;
  connection.abandoned_prefix = 0;
  counters.connected.fetch_sub(1, std::memory_order_relaxed);
  counters.in_flight.fetch_sub(connection.in_flight.size(), std::memory_order_relaxed);
  connection.next_connect = Clock::now();  // the first reconnect at once, then backoff
  // Resent in their order, ahead of what was still to be written: what never left, and what
  // left but gives the same result when repeated.
  std::deque<Queued> resend;
  for (Queued& queued : connection.in_flight) {
    if (queued.abandoned) {
      if (queued.holds_slot) release_slots(1);
      continue;
    }
    const bool written = queued.end <= connection.bytes_sent && queued.end != 0;
    if (!written) {
      resend.push_back(std::move(queued));
    } else if (queued.idempotent && queued.retries < options.retry_attempts) {
      ++queued.retries;
      counters.retries.fetch_add(1, std::memory_order_relaxed);
      resend.push_back(std::move(queued));
    } else {
      finish(queued,
             std::make_exception_ptr(ConnectError(
                 Backend::redis,
                 fmt::format("{}, after {} was written and before its reply: it may have run, so "
                             "it was not repeated ({}); check before retrying it",
                             lost, queued.name.view(),
                             queued.idempotent
                                 ? fmt::format("retries used up ({})", setting::kRedisRetryAttempts)
                                 : std::string("it is not idempotent")),
                 Sent::maybe)),
             to_string(ErrorCode::connect));
    }
  }
  connection.in_flight.clear();
  for (auto it = connection.unwritten.begin(); it != connection.unwritten.end(); ++it) {
    resend.push_back(std::move(*it));
  }
  connection.unwritten = std::move(resend);
  connection.last_error = lost;
}

void AsyncClient::Impl::fail_unwritten(MuxConnection& connection, const std::exception_ptr& error) {
  while (!connection.unwritten.empty()) {
    Queued queued = std::move(connection.unwritten.front());
    connection.unwritten.pop_front();
    finish(queued, error, to_string(ErrorCode::connect));
  }
}

// A closed connection reopens when it has commands to send, or when a sibling is open (the
// server answers, so the connect is quick and the load spreads again); otherwise it waits for
// a command, so a server that is down costs no connect attempts while nobody sends.
bool AsyncClient::Impl::wants_connection(const MuxConnection& connection) const {
  if (connection.load() > 0 || !connection.ever_opened) return true;
  return std::any_of(connections.begin(), connections.end(),
                     [](const auto& other) { return other->open(); });
}

// Until the next deadline, reconnect or health check; -1 when none is due.
int AsyncClient::Impl::poll_timeout(Clock::time_point now) const {
  std::optional<Clock::time_point> due;
  auto consider = [&](Clock::time_point at) {
    if (!due || at < *due) due = at;
  };
  for (const auto& connection : connections) {
    if (connection->abandoned_prefix < connection->in_flight.size()) {
      consider(connection->in_flight[connection->abandoned_prefix].deadline);
    } else if (!connection->in_flight.empty()) {
      consider(connection->in_flight.front().deadline + options.socket_timeout);
    }
    if (!connection->unwritten.empty()) consider(connection->unwritten.front().deadline);
    if (!connection->open() && wants_connection(*connection)) consider(connection->next_connect);
    if (connection->open() && options.health_check_interval.count() > 0) {
      consider(connection->last_activity + options.health_check_interval);
    }
  }
  if (!due) return -1;
  if (*due <= now) return 0;
  return static_cast<int>(std::min<long long>(
      std::chrono::ceil<std::chrono::milliseconds>(*due - now).count(), 60'000));
}

void AsyncClient::Impl::wake() noexcept {
  if (!loop_asleep.exchange(false, std::memory_order_seq_cst)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto ignored = ::write(wake_fd, &one, sizeof one);
}

// After close(): every command still here fails with PoolClosedError.
void AsyncClient::Impl::shut_down() noexcept {
  take_incoming();
  const auto error = std::make_exception_ptr(PoolClosedError(
      Backend::redis, fmt::format("the async Redis client for {} was closed before the reply came",
                                  endpoint->address)));
  for (auto& connection : connections) {
    for (Queued& queued : connection->in_flight) {
      if (!queued.abandoned) finish(queued, error, to_string(ErrorCode::pool_closed));
    }
    for (Queued& queued : connection->unwritten) {
      finish(queued, error, to_string(ErrorCode::pool_closed));
    }
    connection->in_flight.clear();
    connection->unwritten.clear();
    if (connection->open()) counters.connected.fetch_sub(1, std::memory_order_relaxed);
    connection->connection.reset();
  }
}

}  // namespace poolkit::redis
