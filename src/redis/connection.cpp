// One connection: commands are encoded here and sent with MSG_NOSIGNAL (hiredis writes with
// write(), which raises SIGPIPE on a closed socket), so we also know exactly whether any byte of
// a command left. Replies are read here too, with poll() against one deadline per round trip
// (hiredis' reads would restart SO_RCVTIMEO at every byte), and pass the reply scanner before
// hiredis' reader parses them (hiredis allocates whatever a header announces).

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

#include "connection_state.hpp"
#include "endpoint.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/setting_names.hpp"
#include "reply_scanner.hpp"

namespace poolkit::redis {
namespace {

using Clock = std::chrono::steady_clock;

long long milliseconds_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};

}  // namespace

namespace detail {
Reply reply_from_hiredis(const redisReply& reply) {
  switch (reply.type) {
    case REDIS_REPLY_INTEGER:
      return Reply::integer(reply.integer);
    case REDIS_REPLY_STRING:
      return Reply::string(std::string(reply.str, reply.len));
    case REDIS_REPLY_STATUS:
      return Reply::status(std::string(reply.str, reply.len));
    case REDIS_REPLY_ERROR:
      return Reply::error(std::string(reply.str, reply.len));
    case REDIS_REPLY_ARRAY: {
      std::vector<Reply> elements;
      elements.reserve(reply.elements);
      for (std::size_t i = 0; i < reply.elements; ++i)
        elements.push_back(reply_from_hiredis(*reply.element[i]));
      return Reply::array(std::move(elements));
    }
    default:
      return Reply();
  }
}
}  // namespace detail

namespace {

void append_length_line(std::string& out, char marker, std::size_t length) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, length).ptr;
  out += marker;
  out.append(digits, end);
  out += "\r\n";
}

// Whether the current operation (since begin_operation) wrote anything: what its transport
// errors carry, so that a caller can tell a command that may have run from one that did not.
Sent sent_by(const detail::ConnectionState& state) noexcept {
  return state.attempt.wrote ? Sent::maybe : Sent::no;
}

}  // namespace

namespace detail {
void append_command(std::string& out, std::span<const Arg> args) {
  append_length_line(out, '*', args.size());
  for (const Arg& arg : args) {
    const std::string_view text = arg.view();
    append_length_line(out, '$', text.size());
    out.append(text);
    out += "\r\n";
  }
}

TlsStream* ConnectionAccess::tls_stream(Connection& connection) noexcept {
  return connection.state_->tls.get();
}

void ContextDeleter::operator()(redisContext* context) const noexcept {
  redisFree(context);
}

void ConnectionStateDeleter::operator()(ConnectionState* state) const noexcept {
  delete state;  // NOLINT: the owner is the unique_ptr this deleter belongs to
}
}  // namespace detail

unsigned char Arg::format_number(long long number, char (&out)[24]) noexcept {
  const auto end = std::to_chars(out, out + sizeof out, number).ptr;
  return static_cast<unsigned char>(end - out);
}

Connection::Connection(std::unique_ptr<redisContext, detail::ContextDeleter> context,
                       std::shared_ptr<const detail::Endpoint> endpoint)
    : context_(std::move(context)),
      endpoint_(std::move(endpoint)),
      state_(new detail::ConnectionState(
          detail::ReplyLimits{.max_reply_bytes = endpoint_->max_reply_bytes})) {}

bool Connection::in_step() const noexcept {
  if (!state_) return pending_ == 0 && out_.empty();  // moved from
  return pending_ == 0 && out_.empty() && !state_->has_unscanned() && !state_->scanner.in_reply();
}

// A connection the server closed while it sat idle (its `timeout`, a restart) is readable: EOF or
// an error. Finding that before writing means the command was certainly not sent, so the client
// may retry anything, even INCR. Bytes waiting here are replies nobody read (a caller that gave
// up mid-pipeline): the connection is out of step and is replaced, but the server is fine.
void Connection::ensure_alive() {
  state_->attempt.checked_alive = true;
  detail::TlsStream* tls = state_->tls.get();
  pollfd descriptor{.fd = context_->fd, .events = POLLIN, .revents = 0};
  if (::poll(&descriptor, 1, 0) == 0 && !state_->has_unscanned() &&
      (tls == nullptr || !tls->has_buffered())) {
    return;
  }
  bool unread_replies = state_->has_unscanned();
  if (!unread_replies && tls != nullptr) {
    // Over TLS, readable is not enough: a session ticket or a key update is not a reply.
    const detail::TlsStream::Idle idle = tls->check_idle();
    if (idle == detail::TlsStream::Idle::quiet) return;
    // A TLS 1.3 server refuses a client certificate (or its absence) after the handshake: its
    // alert can be waiting here, before the connection's first command.
    if (idle == detail::TlsStream::Idle::closed && tls->failure().tls_refusal) {
      fail_tls("writing to");
    }
    unread_replies = idle == detail::TlsStream::Idle::data;
  } else if (!unread_replies) {
    char byte = 0;
    unread_replies = ::recv(context_->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }
  broken_ = true;
  state_->attempt.closed_while_idle = true;
  state_->attempt.lost = !unread_replies;
  const std::string_view what = unread_replies
                                    ? "had replies nobody read; it was replaced"
                                    : "was closed by the server while idle (its `timeout`, or a "
                                      "restart)";
  throw ConnectError(Backend::redis,
                     fmt::format("the connection to Redis at {} {}", endpoint_->address, what));
}

void Connection::append(std::span<const Arg> args) {
  if (broken_) fail_protocol("the connection is broken by an earlier failure");
  detail::append_command(out_, args);
  ++pending_;
}

void Connection::start_round_trip() noexcept {
  if (!state_->started) state_->started = Clock::now();
}

void Connection::wait_ready(short events, std::string_view doing) {
  const auto deadline = *state_->started + endpoint_->socket_timeout;
  for (;;) {
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) fail_timeout(doing);
    // Rounded up, so poll() never returns just before the deadline and spins.
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    pollfd descriptor{.fd = context_->fd, .events = events, .revents = 0};
    const int ready = ::poll(&descriptor, 1, static_cast<int>(std::min<long long>(wait, 60'000)));
    if (ready > 0) return;
    if (ready < 0 && errno != EINTR) fail_io(doing, errno);
  }
}

void Connection::flush() {
  if (out_.empty()) return;
  if (!state_->attempt.checked_alive) ensure_alive();
  start_round_trip();
  if (state_->tls) return flush_tls();
  std::size_t sent = 0;
  while (sent < out_.size()) {
    const ssize_t n =
        ::send(context_->fd, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      wait_ready(POLLOUT, "writing to");
      continue;
    }
    if (n < 0) {
      const int saved = errno;
      out_.clear();
      fail_io("writing to", saved);
    }
    sent += static_cast<std::size_t>(n);
    state_->attempt.wrote = true;
  }
  out_.clear();
}

// As flush(), through TLS: a write may need the socket readable (a renegotiation, a key
// update), and a byte counts as sent once the socket took any of its record.
void Connection::flush_tls() {
  detail::TlsStream& tls = *state_->tls;
  const std::uint64_t sent_before = tls.bytes_sent();
  std::size_t sent = 0;
  while (sent < out_.size()) {
    const auto step = tls.write(out_.data() + sent, out_.size() - sent);
    if (tls.bytes_sent() != sent_before) state_->attempt.wrote = true;
    switch (step.io) {
      case detail::TlsStream::Io::done:
        sent += step.bytes;
        break;
      case detail::TlsStream::Io::want_write:
        wait_ready(POLLOUT, "writing to");
        break;
      case detail::TlsStream::Io::want_read:
        wait_ready(POLLIN, "writing to");
        break;
      default:
        out_.clear();
        fail_tls("writing to");
    }
  }
  out_.clear();
}

// A reply's first bytes are rarely there the moment its command is sent, so that read polls
// first (poll + recv, not recv + poll + recv); the rest of a long reply usually is.
void Connection::receive_more() {
  detail::ConnectionState& state = *state_;
  if (state.tls) return receive_more_tls();
  if (!state.scanner.in_reply()) wait_ready(POLLIN, "reading from");
  for (;;) {
    const ssize_t n = ::recv(context_->fd, state.buffer.get(), detail::kReceiveChunk, MSG_DONTWAIT);
    if (n > 0) {
      state.scanned = 0;
      state.received = static_cast<std::size_t>(n);
      return;
    }
    const int saved = errno;
    if (n < 0 && saved == EINTR) continue;
    if (n < 0 && (saved == EAGAIN || saved == EWOULDBLOCK)) {
      wait_ready(POLLIN, "reading from");
      continue;
    }
    fail_io("reading from", n == 0 ? 0 : saved);
  }
}

void Connection::receive_more_tls() {
  detail::ConnectionState& state = *state_;
  detail::TlsStream& tls = *state.tls;
  if (!state.scanner.in_reply() && !tls.has_buffered()) wait_ready(POLLIN, "reading from");
  for (;;) {
    const auto step = tls.read(state.buffer.get(), detail::kReceiveChunk);
    switch (step.io) {
      case detail::TlsStream::Io::done:
        state.scanned = 0;
        state.received = step.bytes;
        return;
      case detail::TlsStream::Io::want_read:
        wait_ready(POLLIN, "reading from");
        break;
      case detail::TlsStream::Io::want_write:
        wait_ready(POLLOUT, "reading from");
        break;
      default:  // closed or failed: TLS may know why
        fail_tls("reading from");
    }
  }
}

// Hands hiredis only what the scanner accepted, so hiredis never sees a header that breaks a
// limit; asks hiredis for the reply once the scanner has seen all of it.
Reply Connection::read_reply() {
  if (broken_) fail_protocol("the connection is broken by an earlier failure");
  flush();
  start_round_trip();
  detail::ConnectionState& state = *state_;
  for (;;) {
    if (state.has_unscanned()) {
      const std::string_view fresh = state.unscanned();
      const auto result = state.scanner.feed(fresh);
      if (result.status == detail::ReplyScanner::Status::violation) fail_reply_limit();
      if (result.consumed > 0 &&
          redisReaderFeed(context_->reader, fresh.data(), result.consumed) != REDIS_OK) {
        throw std::bad_alloc();
      }
      state.scanned += result.consumed;
      if (result.status == detail::ReplyScanner::Status::complete) return take_parsed_reply();
    }
    receive_more();
  }
}

Reply Connection::take_parsed_reply() {
  void* raw = nullptr;
  if (redisReaderGetReply(context_->reader, &raw) != REDIS_OK) {
    fail_protocol(context_->reader->errstr);
  }
  if (raw == nullptr) {
    fail_protocol("hiredis found no reply where the reply scanner found a whole one");
  }
  const std::unique_ptr<redisReply, ReplyDeleter> reply(static_cast<redisReply*>(raw));
  if (pending_ > 0) --pending_;
  if (pending_ == 0) state_->started.reset();  // the round trip is over
  return detail::reply_from_hiredis(*reply);
}

Reply Connection::command(std::span<const Arg> args) {
  append(args);
  Reply reply = read_reply();
  if (reply.is_error()) {
    throw ServerError(Backend::redis,
                      fmt::format("{} (Redis at {}, command {})", reply.error_text(),
                                  endpoint_->address, args.empty() ? "" : args.front().view()));
  }
  return reply;
}

void Connection::fail_io(std::string_view doing, int saved_errno) {
  broken_ = true;
  if (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK) fail_timeout(doing);
  state_->attempt.lost = true;
  const std::string reason = saved_errno == 0 ? std::string("the server closed the connection")
                                              : strerrordesc_np(saved_errno);
  throw ConnectError(Backend::redis,
                     fmt::format("lost the connection to Redis at {} while {} it: {}",
                                 endpoint_->address, doing, reason),
                     sent_by(*state_));
}

// A TLS refusal after the handshake (TLS 1.3 servers judge the client's certificate then, so
// "certificate required" arrives with the first reply) is a TlsError; anything else is a lost
// connection, as in plain text.
void Connection::fail_tls(std::string_view doing) {
  const detail::TlsFailure why = state_->tls->failure();
  if (!why.tls_refusal) {
    broken_ = true;
    state_->attempt.lost = true;
    throw ConnectError(Backend::redis,
                       fmt::format("lost the connection to Redis at {} while {} it: {}",
                                   endpoint_->address, doing, why.cause),
                       sent_by(*state_));
  }
  broken_ = true;
  throw TlsError(
      Backend::redis,
      fmt::format("TLS to {} failed: {}; {}",
                  detail::host_and_port(endpoint_->host, endpoint_->port), why.cause, why.advice));
}

void Connection::fail_timeout(std::string_view doing) {
  broken_ = true;
  const long long elapsed = state_->started ? milliseconds_since(*state_->started) : 0;
  const std::uint64_t received = state_->scanner.in_reply() ? state_->scanner.reply_bytes() : 0;
  state_->attempt.timed_out_mid_reply = received > 0;
  close_socket();
  throw TimeoutError(
      Backend::redis,
      fmt::format("timed out {} Redis at {} after {} ms: a command's write and its whole reply "
                  "must finish within {} ({} ms){}; raise {} if the server is slow rather than "
                  "gone",
                  doing, endpoint_->address, elapsed, setting::kRedisSocketTimeout,
                  endpoint_->socket_timeout.count(),
                  received == 0 ? std::string()
                                : fmt::format(", and {} bytes of the reply had arrived", received),
                  setting::kRedisSocketTimeout),
      sent_by(*state_));
}

void Connection::fail_protocol(std::string_view what) {
  broken_ = true;
  throw ProtocolError(Backend::redis, fmt::format("unexpected data from Redis at {}: {}",
                                                  endpoint_->address, what));
}

// Names the limit and the setting that moves it (when one does).
void Connection::fail_reply_limit() {
  broken_ = true;
  const detail::ReplyScanner& scanner = state_->scanner;
  const detail::ReplyLimits& limits = scanner.limits();
  std::string what;
  switch (scanner.violated_limit()) {
    case detail::ReplyLimit::reply_bytes:
    case detail::ReplyLimit::bulk_length:
    case detail::ReplyLimit::array_length:
      what = fmt::format("is larger than {} ({} bytes)", setting::kRedisMaxReplyBytes,
                         limits.max_reply_bytes);
      break;
    case detail::ReplyLimit::array_elements:
      what = fmt::format("has an array of more than {} elements, the most one array may hold",
                         limits.max_array_elements);
      break;
    case detail::ReplyLimit::line_length:
      what = fmt::format("has a status or error line longer than {} bytes, the most one may be",
                         limits.max_line_bytes);
      break;
    case detail::ReplyLimit::nesting:
      what =
          fmt::format("nests arrays more than {} deep, the most hiredis reads", limits.max_depth);
      break;
    case detail::ReplyLimit::malformed:
      what = "is not a valid RESP2 reply";
      break;
  }
  const long long elapsed = state_->started ? milliseconds_since(*state_->started) : 0;
  close_socket();
  throw ProtocolError(Backend::redis,
                      fmt::format("reply from {} {}: {}; the connection was closed after {} ms",
                                  endpoint_->address, what, scanner.violation_detail(), elapsed));
}

// Stops a hostile or stuck server at once; the descriptor itself is closed with the context
// when the pool drops this broken connection.
void Connection::close_socket() noexcept {
  ::shutdown(context_->fd, SHUT_RDWR);
}

}  // namespace poolkit::redis
