// One connection: commands are encoded here and sent with MSG_NOSIGNAL (hiredis writes with
// write(), which raises SIGPIPE on a closed socket), so we also know exactly whether any byte of
// a command left; hiredis parses the replies.

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "endpoint.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"

namespace poolkit::redis {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};

Reply convert(const redisReply& reply) {
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
        elements.push_back(convert(*reply.element[i]));
      return Reply::array(std::move(elements));
    }
    default:
      return Reply();
  }
}

void append_length_line(std::string& out, char marker, std::size_t length) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, length).ptr;
  out += marker;
  out.append(digits, end);
  out += "\r\n";
}

bool is_timeout(int error_number) {
  return error_number == EAGAIN || error_number == EWOULDBLOCK;
}

}  // namespace

namespace detail {
void ContextDeleter::operator()(redisContext* context) const noexcept {
  redisFree(context);
}
}  // namespace detail

unsigned char Arg::format_number(long long number, char (&out)[24]) noexcept {
  const auto end = std::to_chars(out, out + sizeof out, number).ptr;
  return static_cast<unsigned char>(end - out);
}

Connection::Connection(std::unique_ptr<redisContext, detail::ContextDeleter> context,
                       std::shared_ptr<const detail::Endpoint> endpoint)
    : context_(std::move(context)), endpoint_(std::move(endpoint)) {}

void Connection::begin_operation() noexcept {
  wrote_ = false;
  lost_ = false;
  closed_while_idle_ = false;
  checked_alive_ = false;
}

// A connection the server closed while it sat idle (its `timeout`, a restart) is readable: EOF or
// an error. Finding that before writing means the command was certainly not sent, so the client
// may retry anything, even INCR. Bytes waiting here are replies nobody read (a caller that gave
// up mid-pipeline): the connection is out of step and is replaced, but the server is fine.
void Connection::ensure_alive() {
  checked_alive_ = true;
  pollfd descriptor{.fd = context_->fd, .events = POLLIN, .revents = 0};
  if (::poll(&descriptor, 1, 0) == 0) return;
  char byte = 0;
  const bool unread_replies = ::recv(context_->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  broken_ = true;
  closed_while_idle_ = true;
  lost_ = !unread_replies;
  const std::string_view what = unread_replies
                                    ? "had replies nobody read; it was replaced"
                                    : "was closed by the server while idle (its `timeout`, or a "
                                      "restart)";
  throw ConnectError(Backend::redis,
                     fmt::format("the connection to Redis at {} {}", endpoint_->address, what));
}

void Connection::append(std::span<const Arg> args) {
  if (broken_) fail_protocol("the connection is broken by an earlier failure");
  append_length_line(out_, '*', args.size());
  for (const Arg& arg : args) {
    const std::string_view text = arg.view();
    append_length_line(out_, '$', text.size());
    out_.append(text);
    out_ += "\r\n";
  }
  ++pending_;
}

void Connection::flush() {
  if (out_.empty()) return;
  if (!checked_alive_) ensure_alive();
  std::size_t sent = 0;
  while (sent < out_.size()) {
    const ssize_t n = ::send(context_->fd, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      out_.clear();
      fail_io("writing to", saved);
    }
    sent += static_cast<std::size_t>(n);
    wrote_ = true;
  }
  out_.clear();
}

Reply Connection::read_reply() {
  if (broken_) fail_protocol("the connection is broken by an earlier failure");
  flush();
  void* raw = nullptr;
  errno = 0;
  if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
    const int saved = errno;
    if (context_->err == REDIS_ERR_PROTOCOL) fail_protocol(context_->errstr);
    fail_io("reading from", context_->err == REDIS_ERR_EOF ? 0 : saved);
  }
  if (pending_ > 0) --pending_;
  const std::unique_ptr<redisReply, ReplyDeleter> reply(static_cast<redisReply*>(raw));
  return convert(*reply);
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
  if (is_timeout(saved_errno)) {
    throw TimeoutError(
        Backend::redis,
        fmt::format("timed out {} Redis at {} after {} ms; raise REDIS_SOCKET_TIMEOUT if the "
                    "server is slow rather than gone",
                    doing, endpoint_->address, endpoint_->socket_timeout.count()));
  }
  lost_ = true;
  const std::string reason = saved_errno == 0 ? std::string("the server closed the connection")
                                              : strerrordesc_np(saved_errno);
  throw ConnectError(Backend::redis, fmt::format("lost the connection to Redis at {} while {} "
                                                 "it: {}",
                                                 endpoint_->address, doing, reason));
}

void Connection::fail_protocol(std::string_view what) {
  broken_ = true;
  throw ProtocolError(Backend::redis, fmt::format("unexpected data from Redis at {}: {}",
                                                  endpoint_->address, what));
}

}  // namespace poolkit::redis
