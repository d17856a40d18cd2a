#include "switch_watcher.hpp"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <sstream>
#include <system_error>

#include "../connection_state.hpp"
#include "poolkit/error.hpp"

namespace poolkit::redis::detail {
namespace {

constexpr std::string_view kChannel = "+switch-master";

// ["message", channel, text] (a pushed message); nullopt for anything else (PING's ["pong", ""],
// the subscription's confirmation).
std::optional<std::string> message_text(const Reply& reply) {
  if (reply.type() != Reply::Type::array) return std::nullopt;
  const auto& parts = reply.as_array();
  if (parts.size() != 3 || parts[0].type() != Reply::Type::string ||
      parts[0].as_string() != "message" || parts[2].type() != Reply::Type::string) {
    return std::nullopt;
  }
  return parts[2].as_string();
}

bool is_pong(const Reply& reply) {
  if (reply.type() != Reply::Type::array || reply.as_array().empty()) return false;
  const Reply& first = reply.as_array().front();
  return first.type() == Reply::Type::string && first.as_string() == "pong";
}

}  // namespace

std::optional<NodeAddress> switched_master(std::string_view message, std::string_view master_name) {
  std::istringstream words{std::string(message)};
  std::string name, old_host, old_port, new_host, new_port;
  if (!(words >> name >> old_host >> old_port >> new_host >> new_port)) return std::nullopt;
  if (name != master_name) return std::nullopt;
  int port = 0;
  const auto [end, error] =
      std::from_chars(new_port.data(), new_port.data() + new_port.size(), port);
  if (error != std::errc() || end != new_port.data() + new_port.size() || port <= 0 ||
      port > 65535) {
    return std::nullopt;
  }
  return NodeAddress{new_host, port};
}

SwitchWatcher::SwitchWatcher(std::size_t sentinels, std::string master_name, Hooks hooks,
                             std::chrono::milliseconds ping_interval)
    : sentinels_(sentinels),
      master_name_(std::move(master_name)),
      hooks_(std::move(hooks)),
      ping_interval_(ping_interval) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "SentinelClient: could not make the subscriber's wake pipe");
  }
  wake_read_ = fds[0];
  wake_write_ = fds[1];
  thread_ = std::thread([this] { run(); });
}

SwitchWatcher::~SwitchWatcher() {
  stop();
  ::close(wake_read_);
  ::close(wake_write_);
}

void SwitchWatcher::stop() noexcept {
  std::call_once(joined_, [this] {
    stopping_ = true;
    const char byte = 1;
    [[maybe_unused]] const ssize_t written = ::write(wake_write_, &byte, 1);
    if (thread_.joinable()) thread_.join();
  });
}

std::optional<std::size_t> SwitchWatcher::subscribed_to() const noexcept {
  const long long index = subscribed_to_.load();
  if (index < 0) return std::nullopt;
  return static_cast<std::size_t>(index);
}

std::optional<bool> SwitchWatcher::wait_readable(int fd, std::chrono::milliseconds timeout) const {
  pollfd descriptors[2] = {{.fd = wake_read_, .events = POLLIN, .revents = 0},
                           {.fd = fd, .events = POLLIN, .revents = 0}};
  const int count = fd >= 0 ? 2 : 1;
  const int ready = ::poll(descriptors, static_cast<nfds_t>(count),
                           static_cast<int>(std::max<long long>(timeout.count(), 0)));
  if (ready == 0 || (ready < 0 && errno == EINTR)) return std::nullopt;
  if (ready < 0 || descriptors[0].revents != 0) return false;
  return true;
}

void SwitchWatcher::run() {
  std::size_t index = 0;
  int failures = 0;
  bool first = true;
  while (!stopping_) {
    try {
      Connection connection = hooks_.open(index);
      connection.command("SUBSCRIBE", kChannel);
      subscribed_to_ = static_cast<long long>(index);
      if (!first) resubscriptions_.fetch_add(1, std::memory_order_relaxed);
      first = false;
      failures = 0;
      hooks_.subscribed(index);
      listen(connection, index);
    } catch (const std::exception&) {
      // Error (the sentinel is gone, refused us, went silent), or a malformed message: the
      // next sentinel is asked after the backoff. The command path still follows failovers
      // meanwhile, from its errors.
    }
    subscribed_to_ = -1;
    if (stopping_) break;
    index = (index + 1) % sentinels_;
    ++failures;
    if (wait_readable(-1, backoff_.delay(failures)).has_value()) break;  // woken: stop
  }
}

// A message is read as soon as its bytes arrive; between messages the thread sleeps in poll(),
// woken by stop(). A sentinel silent for ping_interval gets a PING, whose answer must come
// before the next interval ends (each read is bounded by the sentinels' timeout as well).
void SwitchWatcher::listen(Connection& connection, std::size_t index) {
  bool awaiting_pong = false;
  while (!stopping_) {
    if (!ConnectionAccess::has_buffered(connection)) {
      const auto readable = wait_readable(connection.native()->fd, ping_interval_);
      if (readable == false) return;  // stop()
      if (!readable) {
        if (awaiting_pong) {
          throw TimeoutError(Backend::redis, "the sentinel did not answer PING in time",
                             Sent::maybe);
        }
        connection.append(std::vector<Arg>{"PING"});
        connection.flush();
        awaiting_pong = true;
        continue;
      }
    }
    const Reply reply = connection.read_reply();
    if (is_pong(reply)) {
      awaiting_pong = false;
      continue;
    }
    if (const auto text = message_text(reply)) {
      if (const auto address = switched_master(*text, master_name_)) {
        hooks_.switched(*address, index);
      }
    }
  }
}

}  // namespace poolkit::redis::detail
