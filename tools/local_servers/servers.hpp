#pragma once
// Real servers on free loopback ports, each in a scratch folder removed when it stops: what the
// integration tests and `poolkit demo` run against.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "local_servers/process.hpp"
#include "local_servers/test_ca.hpp"

namespace poolkit::local {

// A server that speaks only TLS on its port.
struct ServerTls {
  TlsFiles files;                        // the server's certificate and key
  std::filesystem::path client_ca = {};  // set: clients must show a certificate signed by it
};

// redis-server from Debian, no persistence, bound to 127.0.0.1.
class RedisServer {
 public:
  struct Options {
    std::string password{};                 // requirepass; empty: none
    std::vector<std::string> extra_args{};  // e.g. {"--timeout", "1"}
    int port = 0;                           // 0: a free port
    std::optional<ServerTls> tls{};         // set: TLS only (rediss://) on the port
    // A cluster node (cluster-enabled, its nodes file in the scratch folder) or a Sentinel.
    enum class Role { standalone, cluster_node, sentinel } role = Role::standalone;
  };
  explicit RedisServer(Options options);
  RedisServer() : RedisServer(Options{}) {}

  int port() const noexcept { return port_; }
  // redis[s]://[:password@]127.0.0.1:port/db — holds the password: never print it unredacted.
  std::string url(int db = 0) const;
  // SIGKILL: to the clients, a crash.
  void kill();
  // Starts again on the same port (after kill() or stop()).
  void start();
  void stop();
  bool running() { return process_.has_value() && process_->running(); }

  // The process group of the server (its pid), -1 when not running; and its scratch folder. For
  // a signal handler that must stop the server without running destructors.
  pid_t process_group() const noexcept { return process_ ? process_->pid() : -1; }
  const std::filesystem::path& scratch_dir() const noexcept { return dir_.path(); }

 private:
  // Starts the server; `may_move`: on another free port when the chosen one was taken.
  void launch(bool may_move);
  // redis-server's arguments for port_ (writes the password's config file first).
  std::vector<std::string> command_line() const;
  void append_tls_arguments(std::vector<std::string>& argv, const ServerTls& tls) const;
  void append_role_arguments(std::vector<std::string>& argv) const;

  Options options_;
  int port_ = 0;
  TempDir dir_{"poolkit-redis"};
  std::optional<ChildProcess> process_;
};

// nginx from Debian serving files from a folder, HTTP/1.1 keep-alive, on 127.0.0.1.
class NginxServer {
 public:
  struct Options {
    int keepalive_timeout_s = 75;
    int keepalive_requests = 1000000;
    std::string extra_server_config{};  // lines inside server { }
    int port = 0;
    std::optional<ServerTls> tls{};  // set: HTTPS only on the port
  };
  explicit NginxServer(Options options);
  NginxServer() : NginxServer(Options{}) {}

  int port() const noexcept { return port_; }
  std::string url(const std::string& path = "/") const;  // https:// with tls
  // The folder nginx serves; put files here.
  std::filesystem::path root() const { return dir_.path() / "www"; }
  // One line per request: "<connection serial> <connection request number> <status> <uri>".
  std::filesystem::path access_log() const { return dir_.path() / "access.log"; }
  void stop();

  // The process group of the server (its pid), -1 when not running; and its scratch folder. For
  // a signal handler that must stop the server without running destructors.
  pid_t process_group() const noexcept { return process_ ? process_->pid() : -1; }
  const std::filesystem::path& scratch_dir() const noexcept { return dir_.path(); }

 private:
  std::filesystem::path write_config() const;
  std::string tls_config() const;  // the server block's ssl_* lines
  std::vector<std::string> command_line(const std::filesystem::path& config) const;

  Options options_;
  int port_ = 0;
  TempDir dir_{"poolkit-nginx"};
  std::optional<ChildProcess> process_;
};

}  // namespace poolkit::local
