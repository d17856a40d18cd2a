#include "hostile_redis_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <optional>
#include <stdexcept>

namespace poolkit::test {
namespace {

constexpr int kPollMs = 50;

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

std::optional<std::size_t> number_at(std::string_view line) {
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), value);
  if (error != std::errc() || end != line.data() + line.size()) return std::nullopt;
  return value;
}

// One command (an array of bulk strings, as every client sends) from the front of `buffer`;
// removes it. nullopt when more bytes are needed; throws on anything else.
std::optional<std::vector<std::string>> take_command(std::string& buffer) {
  std::size_t position = 0;
  auto line = [&]() -> std::optional<std::string_view> {
    const std::size_t end = buffer.find("\r\n", position);
    if (end == std::string::npos) return std::nullopt;
    const std::string_view text(buffer.data() + position, end - position);
    position = end + 2;
    return text;
  };
  const auto header = line();
  if (!header) return std::nullopt;
  if (header->empty() || header->front() != '*') throw std::runtime_error("not a command");
  const auto count = number_at(header->substr(1));
  if (!count || *count > 1024) throw std::runtime_error("bad argument count");
  std::vector<std::string> words;
  for (std::size_t i = 0; i < *count; ++i) {
    const auto length_line = line();
    if (!length_line) return std::nullopt;
    const auto length = length_line->size() > 1 ? number_at(length_line->substr(1)) : std::nullopt;
    if (length_line->front() != '$' || !length || *length > (1 << 20)) {
      throw std::runtime_error("bad argument length");
    }
    if (buffer.size() < position + *length + 2) return std::nullopt;
    words.emplace_back(buffer, position, *length);
    position += *length + 2;
  }
  buffer.erase(0, position);
  return words;
}

}  // namespace

HostileRedisServer::HostileRedisServer(std::string command, HostileReply reply, int times)
    : command_(std::move(command)),
      reply_(std::move(reply)),
      times_(times),
      listen_fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("HostileRedisServer: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HostileRedisServer::~HostileRedisServer() {
  stopping_ = true;
  acceptor_.join();
  std::lock_guard lock(threads_mutex_);
  for (std::thread& thread : threads_) thread.join();
  ::close(listen_fd_);
}

void HostileRedisServer::accept_loop() {
  while (!stopping_) {
    pollfd descriptor{.fd = listen_fd_, .events = POLLIN, .revents = 0};
    if (::poll(&descriptor, 1, kPollMs) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(threads_mutex_);
    if (threads_.size() >= kMaxConnections) {
      ::close(fd);
      continue;
    }
    connections_.fetch_add(1);
    threads_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void HostileRedisServer::serve(int fd) {
  std::string buffer;
  char chunk[4096];
  while (!stopping_) {
    pollfd descriptor{.fd = fd, .events = POLLIN, .revents = 0};
    if (::poll(&descriptor, 1, kPollMs) <= 0) continue;
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return;  // the client closed (or reset) the connection
    buffer.append(chunk, static_cast<std::size_t>(n));
    try {
      while (auto command = take_command(buffer)) {
        if (!answer(fd, *command)) return;
      }
    } catch (const std::exception&) {
      return;
    }
  }
}

bool HostileRedisServer::answer(int fd, const std::vector<std::string>& command) {
  const std::string_view name = command.empty() ? std::string_view() : command.front();
  if (same_name(name, command_)) {
    const int seen = target_commands_.fetch_add(1) + 1;
    if (times_ == 0 || seen <= times_) return misbehave(fd);
  }
  if (same_name(name, "PING")) return send_all(fd, "+PONG\r\n");
  if (same_name(name, "GET")) return send_all(fd, "$-1\r\n");
  return send_all(fd, "+OK\r\n");  // AUTH, SELECT, CLIENT SETNAME, SET, ...
}

bool HostileRedisServer::misbehave(int fd) {
  switch (reply_.kind) {
    case HostileReply::Kind::raw:
      return send_all(fd, reply_.bytes);
    case HostileReply::Kind::raw_then_close:
      send_all(fd, reply_.bytes);
      return false;
    case HostileReply::Kind::silence:
      return true;
    case HostileReply::Kind::trickle:
      for (const char byte : reply_.bytes) {
        if (stopping_ || !send_all(fd, std::string_view(&byte, 1))) return false;
        std::this_thread::sleep_for(reply_.interval);
      }
      return true;
    case HostileReply::Kind::endless: {
      if (!send_all(fd, reply_.bytes)) return false;
      std::string block;
      while (block.size() < 64 * 1024) block += reply_.pattern;
      for (std::size_t sent = 0; sent < kStreamBound; sent += block.size()) {
        if (!send_all(fd, block)) return false;
      }
      return false;
    }
  }
  return false;
}

// False once the client is gone or the server stops.
bool HostileRedisServer::send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    if (stopping_) return false;
    pollfd descriptor{.fd = fd, .events = POLLOUT, .revents = 0};
    if (::poll(&descriptor, 1, kPollMs) <= 0) continue;
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

std::size_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // in kB
  }
  throw std::runtime_error("no VmRSS in /proc/self/status");
}

}  // namespace poolkit::test
