#include "local_servers/ferretdb.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace poolkit::local {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(30);
constexpr int kStartAttempts = 3;

// GET http://127.0.0.1:port/metrics with HTTP/1.0 (the server closes after the reply); the
// body, or nullopt on any failure.
std::optional<std::string> fetch_metrics(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return std::nullopt;
  timeval timeout{.tv_sec = 2, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[4096];
      for (int i = 0; i < 64; ++i) {  // the page is a few hundred bytes
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n <= 0) break;
        response.append(buffer, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  if (response.rfind("HTTP/1.0 200", 0) != 0 && response.rfind("HTTP/1.1 200", 0) != 0) {
    return std::nullopt;
  }
  const auto body = response.find("\r\n\r\n");
  if (body == std::string::npos) return std::nullopt;
  return response.substr(body + 4);
}

std::optional<int> gauge(const std::string& page, const std::string& name) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::atoi(line.c_str() + name.size() + 1);
  }
  return std::nullopt;
}

}  // namespace

std::filesystem::path FerretDbServer::default_launcher() {
  if (const char* path = std::getenv("POOLKIT_FERRETDB_LAUNCHER"); path != nullptr && *path) {
    return path;
  }
  return POOLKIT_FERRETDB_LAUNCHER;
}

std::optional<std::string> FerretDbServer::unavailable_reason() {
  const auto binary = default_launcher();
  if (binary.empty()) {
    return "no FerretDB launcher: Go was not found when this build was configured (install Go "
           "1.24+, or set POOLKIT_FERRETDB_LAUNCHER; scripts/ferretdb build makes one)";
  }
  if (!std::filesystem::exists(binary)) {
    return fmt::format("the FerretDB launcher {} was not built", binary.string());
  }
  return std::nullopt;
}

FerretDbServer::FerretDbServer(Options options)
    : launcher_(options.launcher.empty() ? default_launcher() : options.launcher),
      tls_(std::move(options.tls)) {
  if (launcher_.empty() || !std::filesystem::exists(launcher_)) {
    throw std::runtime_error(unavailable_reason().value_or("no FerretDB launcher"));
  }
  port_ = options.port != 0 ? options.port : free_loopback_port();
  metrics_port_ = free_loopback_port();
  launch(/*may_move=*/options.port == 0);
}

std::string FerretDbServer::url() const {
  if (tls_) {
    return fmt::format("mongodb://127.0.0.1:{}/?tls=true&tlsCAFile={}", port_,
                       tls_->ca_file.string());
  }
  return fmt::format("mongodb://127.0.0.1:{}/", port_);
}

std::vector<std::string> FerretDbServer::arguments() const {
  std::vector<std::string> arguments{launcher_.string(),
                                     "--port",
                                     std::to_string(port_),
                                     "--metrics-port",
                                     std::to_string(metrics_port_),
                                     "--data-dir",
                                     (dir_.path() / "data").string()};
  if (tls_) {
    arguments.insert(arguments.end(), {"--tls-cert", tls_->server.files.cert.string(), "--tls-key",
                                       tls_->server.files.key.string()});
    if (!tls_->server.client_ca.empty()) {
      arguments.insert(arguments.end(), {"--tls-ca", tls_->server.client_ca.string()});
    }
  }
  return arguments;
}

void FerretDbServer::start() {
  launch(/*may_move=*/false);
}

void FerretDbServer::launch(bool may_move) {
  const auto log = dir_.path() / "ferretdb.log";
  // The metrics page opens after FerretDB's listener: once it answers, both are up.
  const bool listening = launch_until_listening(
      [&](int attempt) {
        if (attempt > 1) {
          if (may_move) port_ = free_loopback_port();
          metrics_port_ = free_loopback_port();
        }
        return Launched{process_.emplace(arguments(), log), metrics_port_};
      },
      kStartAttempts, kStartTimeout);
  if (!listening) {
    throw std::runtime_error(fmt::format("FerretDB did not start on 127.0.0.1:{} within 30 s:{}",
                                         port_, log_tail(log, 10)));
  }
}

void FerretDbServer::stop(bool crash) {
  if (!process_) return;
  if (crash) {
    process_->kill_now();
  } else {
    process_->stop(std::chrono::seconds(10));
  }
  process_.reset();
}

void FerretDbServer::pause() {
  if (!process_) throw std::logic_error("FerretDbServer::pause: not running");
  process_->signal(SIGSTOP);
  const auto stat = fmt::format("/proc/{}/stat", process_->pid());
  for (int i = 0; i < 200; ++i) {  // the stop is asynchronous: up to 2 s
    std::ifstream in(stat);
    std::string pid, name, state;
    in >> pid >> name >> state;  // the name has no spaces: it is "(ferretdb-launch)"
    if (state == "T") return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("FerretDB did not stop on SIGSTOP within 2 s");
}

void FerretDbServer::resume() {
  if (process_) process_->signal(SIGCONT);
}

std::optional<int> FerretDbServer::open_connections() const {
  const auto page = fetch_metrics(metrics_port_);
  if (!page) return std::nullopt;
  return gauge(*page, "ferretdb_launcher_client_connections");
}

}  // namespace poolkit::local
