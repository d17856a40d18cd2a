#pragma once
// FerretDB (MongoDB wire protocol, SQLite storage) on a free loopback port, from the Go launcher
// in tests/support/ferretdb, for the MongoDB tests, benchmarks and `poolkit demo`.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "local_servers/process.hpp"
#include "local_servers/servers.hpp"

namespace poolkit::local {

class FerretDbServer {
 public:
  // A TLS-only listener: the server's certificate and key, and the CA that clients must
  // present a certificate from (empty: no client certificate asked for).
  struct Tls {
    ServerTls server;
    std::filesystem::path ca_file;  // the CA that signs server.files.cert: url() names it
  };
  struct Options {
    std::filesystem::path launcher{};  // empty: default_launcher()
    int port = 0;                      // 0: a free port
    std::optional<Tls> tls{};          // unset: plain TCP
  };
  explicit FerretDbServer(Options options);
  FerretDbServer() : FerretDbServer(Options{}) {}

  // $POOLKIT_FERRETDB_LAUNCHER, else the launcher this build made (empty when Go was missing).
  static std::filesystem::path default_launcher();
  // Why no FerretDB can be started here, or nullopt.
  static std::optional<std::string> unavailable_reason();

  int port() const noexcept { return port_; }
  // mongodb://127.0.0.1:port/, or over TLS mongodb://127.0.0.1:port/?tls=true&tlsCAFile=CA
  std::string url() const;
  // Client connections the server holds open now (the launcher counts its established sockets);
  // nullopt when the metrics page does not answer.
  std::optional<int> open_connections() const;

  // SIGTERM (FerretDB gives clients 3 s to disconnect), or SIGKILL when `crash`.
  void stop(bool crash = false);
  // Starts again on the same port with the same data (after stop()).
  void start();
  // SIGSTOP (returns once the process is stopped) / SIGCONT: a server that holds its
  // connections open but answers nothing.
  void pause();
  void resume();
  bool running() { return process_.has_value() && process_->running(); }

  // The process group of the server (its pid), -1 when not running; and its scratch folder. For
  // a signal handler that must stop the server without running destructors.
  pid_t process_group() const noexcept { return process_ ? process_->pid() : -1; }
  const std::filesystem::path& scratch_dir() const noexcept { return dir_.path(); }

 private:
  // The launcher's command line for the current ports.
  std::vector<std::string> arguments() const;
  // Starts the server; `may_move`: on another free port when the chosen one was taken.
  void launch(bool may_move);

  std::filesystem::path launcher_;
  int port_ = 0;
  int metrics_port_ = 0;
  std::optional<Tls> tls_;
  TempDir dir_{"poolkit-ferretdb"};
  std::optional<ChildProcess> process_;
};

}  // namespace poolkit::local
