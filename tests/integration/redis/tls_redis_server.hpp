#pragma once
// A redis-server listening TLS only (the shared launcher's RedisServer::Options::tls), with
// requirepass = POOLKIT_TEST_SECRET, certificates from the throw-away TestCa, and a plain-text
// unix socket for the fixture's own admin commands (hiredis, independent of the client under
// test).

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "local_servers/servers.hpp"
#include "local_servers/test_ca.hpp"
#include "process.hpp"

namespace poolkit::test {

class TlsRedisServer {
 public:
  enum class Certificate { good, wrong_name, expired };
  struct Options {
    Certificate certificate = Certificate::good;
    bool require_client_certificate = false;  // --tls-auth-clients yes
  };

  explicit TlsRedisServer(Options options);
  TlsRedisServer() : TlsRedisServer(Options{}) {}

  int port() const noexcept { return server_.port(); }
  // rediss://:SECRET@HOST:PORT/0 with ?ssl_ca_certs=<the test CA> unless `ca_file` is empty.
  std::string url(const std::string& host = "127.0.0.1") const;
  std::string url_trusting(const std::filesystem::path& ca_file,
                           const std::string& host = "127.0.0.1") const;

  void kill() { server_.kill(); }
  void start() { server_.start(); }
  pid_t pid() const noexcept { return server_.process_group(); }

  std::string admin_text(const std::vector<std::string>& args) const;
  long long admin_integer(const std::vector<std::string>& args) const;
  int count_clients(const std::string& name) const;
  void set_idle_timeout(std::chrono::seconds timeout) const;

  static const local::TestCa& ca();

 private:
  static local::RedisServer::Options launch_options(const TempDir& dir, const Options& options);

  TempDir dir_{"poolkit-redis-tls-test"};
  local::RedisServer server_;
};

}  // namespace poolkit::test
