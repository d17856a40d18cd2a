#include "metrics_server.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string_view>

#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit {
namespace {

struct HostPort {
  std::string host;
  std::string port;
};

HostPort split_address(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size())
    throw ConfigError(fmt::format("{}={:?}: expected host:port, e.g. 127.0.0.1:9464",
                                  setting::kPoolkitMetricsAddr, address));
  std::string host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host.empty() ? "127.0.0.1" : host, address.substr(colon + 1)};
}

int listen_on(const HostPort& where, const std::string& address) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(where.host.c_str(), where.port.c_str(), &hints, &found) != 0 ||
      found == nullptr)
    throw ConfigError(fmt::format("{}={:?}: cannot resolve it; expected host:port",
                                  setting::kPoolkitMetricsAddr, address));
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  const bool ok =
      fd >= 0 && ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, 16) == 0;
  const int error = errno;
  ::freeaddrinfo(found);
  if (!ok) {
    if (fd >= 0) ::close(fd);
    throw ConfigError(fmt::format("{}={:?}: cannot listen there ({})", setting::kPoolkitMetricsAddr,
                                  address, std::strerror(error)));
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  if (address.ss_family == AF_INET6)
    return ntohs(reinterpret_cast<sockaddr_in6*>(&address)->sin6_port);
  return ntohs(reinterpret_cast<sockaddr_in*>(&address)->sin_port);
}

void send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent <= 0) return;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
}

void respond(int fd, int status, std::string_view type, std::string_view body) {
  const char* reason = status == 200 ? "OK" : status == 503 ? "Service Unavailable" : "Not Found";
  send_all(
      fd,
      fmt::format(
          "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
          status, reason, type, body.size()));
  send_all(fd, body);
}

// The request line, read with a short deadline so one slow client cannot stall the endpoint.
std::string read_request_line(int fd) {
  std::string request;
  char buffer[1024];
  while (request.find("\r\n") == std::string::npos && request.size() < 8192) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
    if (got <= 0) break;
    request.append(buffer, static_cast<std::size_t>(got));
  }
  return request.substr(0, request.find("\r\n"));
}

}  // namespace

MetricsServer::MetricsServer(const std::string& address, Handlers handlers)
    : handlers_(std::move(handlers)) {
  listener_ = listen_on(split_address(address), address);
  port_ = bound_port(listener_);
  if (::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
    ::close(listener_);
    throw ConfigError("metrics endpoint: cannot create its stop pipe");
  }
  thread_ = std::thread([this] { serve(); });
}

MetricsServer::~MetricsServer() {
  const char stop = 's';
  [[maybe_unused]] const auto written = ::write(stop_pipe_[1], &stop, 1);
  if (thread_.joinable()) thread_.join();
  ::close(listener_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

void MetricsServer::serve() {
  for (;;) {
    pollfd fds[2] = {{listener_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int client = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    answer(client);
    ::close(client);
  }
}

void MetricsServer::answer(int client) {
  const std::string line = read_request_line(client);
  const auto path_start = line.find(' ');
  const std::string path =
      path_start == std::string::npos
          ? ""
          : line.substr(path_start + 1, line.find(' ', path_start + 1) - path_start - 1);
  try {
    if (path == "/metrics") {
      respond(client, 200, "text/plain; version=0.0.4; charset=utf-8", handlers_.metrics());
    } else if (path == "/healthz") {
      const auto [healthy, body] = handlers_.health();
      respond(client, healthy ? 200 : 503, "application/json", body);
    } else {
      respond(client, 404, "text/plain", "only /metrics and /healthz are served here\n");
    }
  } catch (const std::exception& error) {
    respond(client, 503, "text/plain", fmt::format("{}\n", error.what()));
  }
}

}  // namespace poolkit
