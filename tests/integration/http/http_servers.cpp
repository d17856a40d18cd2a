#include "http_servers.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;

void write_file(const std::filesystem::path& path, const std::string& content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("could not connect to nginx's status page");
  }
  return fd;
}

std::string fetch_raw(int port, const std::string& path) {
  const int fd = connect_loopback(port);
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    ::close(fd);
    throw std::runtime_error("could not send to nginx's status page");
  }
  std::string reply;
  char chunk[4096];
  for (ssize_t n; (n = ::recv(fd, chunk, sizeof chunk, 0)) > 0;) reply.append(chunk, n);
  ::close(fd);
  return reply;
}

int number_after(const std::string& text, const std::string& label) {
  const auto at = text.find(label);
  if (at == std::string::npos) throw std::runtime_error("stub_status without " + label);
  return std::stoi(text.substr(at + label.size()));
}

}  // namespace

local::NginxServer::Options nginx_options(int keepalive_timeout_s) {
  local::NginxServer::Options options;
  options.keepalive_timeout_s = keepalive_timeout_s;
  // nginx paces limit_rate per second and sends the first second's share at once: 16 KiB at
  // 16 KiB/s arrives within about 1 s, 64 KiB after about 3 s.
  options.extra_server_config =
      "location = /status { stub_status; access_log off; }\n"
      "    location /slow/ { limit_rate 16k; }";
  return options;
}

Nginx::Nginx(int keepalive_timeout_s) : Nginx(nginx_options(keepalive_timeout_s), 0, 0) {}

Nginx::Nginx(const local::ServerTls& tls, int keepalive_timeout_s)
    : Nginx(
          [&] {
            auto options = nginx_options(keepalive_timeout_s);
            options.tls = tls;
            return options;
          }(),
          local::free_loopback_port(), local::free_loopback_port()) {}

Nginx::Nginx(local::NginxServer::Options options, int status_port, int http2_port)
    : status_port_(status_port), http2_port_(http2_port), server_([&] {
        if (status_port != 0) {
          options.extra_server_config +=
              "\n    listen 127.0.0.1:" + std::to_string(status_port) + ";" +
              "\n    listen 127.0.0.1:" + std::to_string(http2_port) + " ssl http2;" +
              "\n    location = /session { return 200 $ssl_session_reused; }";
        }
        return options;
      }()) {
  if (status_port_ == 0) status_port_ = server_.port();
  write_file(server_.root() / "small.txt", "hello from nginx\n");
  write_file(server_.root() / "medium.bin", std::string(kMediumFileBytes, 'm'));
  write_file(server_.root() / "slow/second.bin", std::string(16 * 1024, 's'));
  write_file(server_.root() / "slow/long.bin", std::string(64 * 1024, 'l'));
}

std::vector<AccessRecord> Nginx::access_log() const {
  std::vector<AccessRecord> records;
  std::ifstream in(server_.access_log());
  AccessRecord record;
  while (in >> record.connection >> record.connection_requests >> record.status >> record.uri) {
    records.push_back(record);
  }
  return records;
}

std::vector<AccessRecord> Nginx::access_log(std::size_t lines) const {
  const auto give_up = std::chrono::steady_clock::now() + 5s;
  auto records = access_log();
  while (records.size() < lines && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(10ms);
    records = access_log();
  }
  return records;
}

std::string Nginx::http2_url(const std::string& path) const {
  return "https://127.0.0.1:" + std::to_string(http2_port_) + path;
}

long Nginx::accepted() const {
  const std::string status = fetch_raw(status_port_, "/status");
  // "server accepts handled requests\r\n <accepts> <handled> <requests>"
  return number_after(status, "handled requests");
}

Nginx::Connections Nginx::connections() const {
  const std::string status = fetch_raw(status_port_, "/status");
  const int reading = number_after(status, "Reading: ");
  const int writing = number_after(status, "Writing: ");
  return {number_after(status, "Active connections: ") - 1, reading + writing - 1};
}

std::set<long> distinct_connections(const std::vector<AccessRecord>& log) {
  std::set<long> ids;
  for (const auto& record : log) ids.insert(record.connection);
  return ids;
}

bool FaultConnection::wait_readable() {
  while (!stopping_.load()) {
    pollfd entry{fd_, POLLIN, 0};
    const int ready = ::poll(&entry, 1, 20);
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
  }
  return false;
}

std::optional<std::string> FaultConnection::read_request() {
  for (int reads = 0; reads < 10000; ++reads) {
    const auto head_end = buffer_.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      std::size_t body = 0;
      const auto length_at = buffer_.find("Content-Length: ");
      if (length_at != std::string::npos && length_at < head_end) {
        body = std::stoul(buffer_.substr(length_at + 16));
      }
      if (buffer_.size() >= head_end + 4 + body) {
        std::string request = buffer_.substr(0, head_end + 4 + body);
        buffer_.erase(0, head_end + 4 + body);
        return request;
      }
    }
    if (!wait_readable()) return std::nullopt;
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
  return std::nullopt;
}

bool FaultConnection::write(std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    if (stopping_.load()) return false;
    pollfd entry{fd_, POLLOUT, 0};
    const int ready = ::poll(&entry, 1, 20);
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    const ssize_t n =
        ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    sent += static_cast<std::size_t>(n);
  }
  return true;
}

void FaultConnection::reset() {
  const linger abort_on_close{1, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
}

void FaultConnection::hold() {
  char chunk[4096];
  while (wait_readable()) {
    if (::recv(fd_, chunk, sizeof chunk, 0) <= 0) return;
  }
}

std::string http_response(int status, const std::string& body,
                          const std::vector<std::string>& extra_headers, bool keep_alive) {
  std::string response = "HTTP/1.1 " + std::to_string(status) + " Status\r\n";
  response += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  response += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  for (const auto& header : extra_headers) response += header + "\r\n";
  return response + "\r\n" + body;
}

FaultServer::FaultServer(Handler handle) : handle_(std::move(handle)) {
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int yes = 1;
  ::setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listener_, 128) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(listener_);
    throw std::runtime_error("fault server: could not listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultServer::~FaultServer() {
  stopping_ = true;
  acceptor_.join();
  std::lock_guard lock(threads_mutex_);
  for (auto& thread : threads_) thread.join();
  ::close(listener_);
}

std::string FaultServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void FaultServer::accept_loop() {
  while (!stopping_.load()) {
    pollfd entry{listener_, POLLIN, 0};
    if (::poll(&entry, 1, 20) <= 0) continue;
    const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard lock(threads_mutex_);
    threads_.emplace_back([this, fd] {
      FaultConnection connection(fd, stopping_);
      handle_(*this, connection);
      ::close(fd);
    });
  }
}

FaultServer::Handler FaultServer::scripted(std::vector<std::string> responses) {
  return [responses = std::move(responses)](FaultServer& server, FaultConnection& connection) {
    if (!connection.read_request()) return;
    const auto n = static_cast<std::size_t>(server.count_request());
    connection.write(responses[std::min(n, responses.size() - 1)]);
  };
}

}  // namespace poolkit::test
