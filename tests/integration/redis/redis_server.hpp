#pragma once
// A real redis-server for the tests, started by the shared launcher (local::RedisServer: a free
// loopback port, no persistence) with `requirepass` = POOLKIT_TEST_SECRET, an ACL user whose
// password needs percent-encoding, and a unix socket. It can be SIGKILLed and restarted on the
// same port, and reached with admin commands on a connection of its own.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "local_servers/servers.hpp"
#include "poolkit/settings.hpp"
#include "process.hpp"

namespace poolkit::test {

// The unique password of this build tree (never print it).
std::string test_secret();

class RedisServer {
 public:
  static constexpr const char* kAclUser = "app";

  RedisServer();

  int port() const noexcept { return server_.port(); }
  std::string socket_path() const { return (dir_.path() / "redis.sock").string(); }

  // redis://:SECRET@127.0.0.1:PORT<path>
  std::string url(const std::string& path = "/0") const;
  // redis://app:<percent-encoded password>@127.0.0.1:PORT/0
  std::string acl_url() const;
  // The ACL user's password: the secret plus characters a URL must percent-encode.
  static std::string acl_password();

  // Crash (SIGKILL) and start again on the same port with the same configuration.
  void kill() { server_.kill(); }
  void start() { server_.start(); }

  // Commands on a fresh connection of its own, named "fixture-admin".
  std::string admin_text(const std::vector<std::string>& args) const;
  long long admin_integer(const std::vector<std::string>& args) const;
  // Connections the server sees with this client name (CLIENT LIST).
  int count_clients(const std::string& name) const;
  // The names of every client connected, the fixture's own admin connection excluded.
  std::vector<std::string> client_names() const;
  // The server closes connections idle longer than this (CONFIG SET timeout).
  void set_idle_timeout(std::chrono::seconds timeout) const;

 private:
  // Writes the ACL user into a file of dir_ (never onto a command line) and says to include it.
  static local::RedisServer::Options launch_options(const TempDir& dir);

  TempDir dir_{"poolkit-redis-test"};  // before server_: it holds the ACL file and the socket
  local::RedisServer server_;
};

// One server for a whole suite; every test starts with it empty.
class SharedRedisServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = std::make_unique<RedisServer>(); }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override { server_->admin_text({"FLUSHALL"}); }
  static inline std::unique_ptr<RedisServer> server_;
};

// Settings for a client of the test server: small pool, short timeouts, a client name.
RedisSettings test_settings(const std::string& url, const std::string& client_name = "pk-test");

// A TCP listener on 127.0.0.1 that accepts connections (the kernel completes the handshake) and
// never answers: the stand-in for a hung server.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  int port() const noexcept { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace poolkit::test
