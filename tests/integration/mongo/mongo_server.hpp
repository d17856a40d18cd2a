#pragma once
// The server the MongoDB tests talk to: FerretDB started from the Go launcher on a free loopback
// port, or the real MongoDB named by MONGODB_TEST_URL.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "local_servers/ferretdb.hpp"
#include "poolkit/settings.hpp"
#include "process.hpp"

namespace poolkit::test {

class MongoServer {
 public:
  // FerretDB on a free port, unless MONGODB_TEST_URL is set. Throws std::runtime_error when
  // the launcher is missing or the server does not come up.
  MongoServer();
  ~MongoServer() = default;
  MongoServer(const MongoServer&) = delete;
  MongoServer& operator=(const MongoServer&) = delete;

  // Why the tests cannot run (no launcher and no MONGODB_TEST_URL), or nullopt.
  static std::optional<std::string> unavailable_reason();

  bool external() const noexcept { return !ferretdb_; }
  const std::string& url() const noexcept { return url_; }

  // Settings for this server with the defaults of docs/configuration.md, MONGODB_URL set.
  MongoSettings settings() const;

  // Client connections the server holds open now, as the server sees them: the launcher's
  // count of its established sockets (FerretDB), or currentOp's connections with this
  // application name (real MongoDB). nullopt when it cannot be read.
  std::optional<int> open_connections(const std::string& appname) const;

  // FerretDB only: stop (SIGTERM, or SIGKILL when `crash`) and start again on the same port
  // with the same data.
  void stop(bool crash = false) { ferretdb_->stop(crash); }
  void start() { ferretdb_->start(); }
  void pause() { ferretdb_->pause(); }
  void resume() { ferretdb_->resume(); }

 private:
  std::optional<FerretDbServer> ferretdb_;
  std::string url_;
};

// Polls `condition` every 20 ms until it holds or `timeout` passes; returns its last value.
template <class Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace poolkit::test
