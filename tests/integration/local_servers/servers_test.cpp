// The launchers every integration test and the demo rely on: real servers on free loopback
// ports that answer, stop, and come back on the same port.

#include "local_servers/servers.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "tls_probe.hpp"

using namespace std::chrono_literals;
using poolkit::local::NginxServer;
using poolkit::local::RedisServer;
using poolkit::local::ServerTls;
using poolkit::local::TestCa;
using poolkit::testing::tls_probe;
using poolkit::testing::TlsProbe;

namespace {

// One request, one reply read until the peer closes or `until` appears.
std::string exchange(int port, const std::string& request, const std::string& until) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buffer[4096];
    for (ssize_t got; reply.find(until) == std::string::npos &&
                      (got = ::recv(fd, buffer, sizeof buffer, 0)) > 0;)
      reply.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  return reply;
}

}  // namespace

TEST(LocalServers, RedisAnswersAndRequiresItsPassword) {
  const char* secret = std::getenv("POOLKIT_TEST_SECRET");
  ASSERT_NE(secret, nullptr);
  RedisServer redis({.password = secret});
  EXPECT_NE(exchange(redis.port(), "PING\r\n", "\r\n").find("NOAUTH"), std::string::npos);
  const std::string auth = std::string("AUTH ") + secret + "\r\nPING\r\n";
  EXPECT_NE(exchange(redis.port(), auth, "+PONG").find("+PONG"), std::string::npos);
}

TEST(LocalServers, RedisComesBackOnTheSamePortAfterAKill) {
  RedisServer redis;
  const int port = redis.port();
  redis.kill();
  EXPECT_FALSE(redis.running());
  EXPECT_EQ(exchange(port, "PING\r\n", "\r\n"), "");
  redis.start();
  EXPECT_EQ(redis.port(), port);
  EXPECT_NE(exchange(port, "PING\r\n", "\r\n").find("+PONG"), std::string::npos);
}

TEST(LocalServers, NginxServesItsFolderAndLogsTheConnectionOfEachRequest) {
  NginxServer nginx;
  std::ofstream(nginx.root() / "hello.txt") << "hello";
  const std::string reply =
      exchange(nginx.port(), "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
               "\r\n\r\nhello");
  EXPECT_NE(reply.find("200 OK"), std::string::npos);
  nginx.stop();
  std::ifstream log(nginx.access_log());
  std::string line;
  std::getline(log, line);
  EXPECT_NE(line.find(" 1 200 /hello.txt"), std::string::npos) << line;
}

TEST(LocalServers, FreePortsLieBelowTheEphemeralRangeSoNoOutgoingConnectionTakesThem) {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int first_ephemeral = 0;
  range >> first_ephemeral;
  if (first_ephemeral < 11000) GTEST_SKIP() << "the ephemeral range starts too low";
  for (int i = 0; i < 20; ++i) {
    const int port = poolkit::local::free_loopback_port();
    EXPECT_GE(port, 10000);
    EXPECT_LT(port, first_ephemeral);
  }
}

TEST(LocalServers, AServerWhosePortWasTakenBeforeItBoundIsStartedAgainOnAFreshPort) {
  // A socket bound and not listening: redis-server cannot bind the port and exits, while a
  // connect() to it is refused, exactly as when another test's server won the race for it.
  const int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  const int taken_port = poolkit::local::free_loopback_port();
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(taken_port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(taken, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);

  poolkit::local::TempDir dir;
  std::optional<poolkit::local::ChildProcess> child;
  std::vector<int> tried;
  const bool listening = poolkit::local::launch_until_listening(
      [&](int attempt) {
        const int port = attempt == 1 ? taken_port : poolkit::local::free_loopback_port();
        tried.push_back(port);
        child.emplace(std::vector<std::string>{"redis-server", "--port", std::to_string(port),
                                               "--bind", "127.0.0.1", "--save", ""},
                      dir.path() / "redis.log");
        return poolkit::local::Launched{*child, port};
      },
      3, 20s);
  ::close(taken);
  ASSERT_TRUE(listening);
  ASSERT_EQ(tried.size(), 2u);
  EXPECT_NE(exchange(tried[1], "PING\r\n", "\r\n").find("+PONG"), std::string::npos);
  // The first attempt's complaint is in the log, before the second attempt's start-up lines.
  const std::string log = poolkit::local::log_tail(dir.path() / "redis.log", 1000);
  EXPECT_NE(log.find("in use"), std::string::npos) << log;
}

// The test CA makes what the TLS tests of every layer rely on: each certificate fails
// verification for the reason its name says, checked by plain OpenSSL against a TLS server.
TEST(LocalServers, TlsRedisAnswersOnlyOverTlsWithTheTestCa) {
  const TestCa& ca = TestCa::shared();
  RedisServer redis({.tls = ServerTls{ca.server()}});
  EXPECT_EQ(redis.url().rfind("rediss://127.0.0.1:", 0), 0u) << redis.url();
  const auto reply =
      tls_probe(redis.port(), {.ca_file = ca.ca_file(), .request = "PING\r\n", .until = "+PONG"});
  EXPECT_TRUE(reply.handshake_ok);
  EXPECT_EQ(reply.verify_result, X509_V_OK);
  EXPECT_NE(reply.reply.find("+PONG"), std::string::npos);
  EXPECT_EQ(exchange(redis.port(), "PING\r\n", "\r\n").find("+PONG"), std::string::npos)
      << "the TLS port must not answer plaintext";
  const auto by_name =
      tls_probe(redis.port(), {.ca_file = ca.ca_file(), .expected_name = "localhost"});
  EXPECT_TRUE(by_name.handshake_ok);
}

TEST(LocalServers, TestCaCertificatesFailForTheirOwnReason) {
  const TestCa& ca = TestCa::shared();
  const auto verify_result = [&](const poolkit::local::TlsFiles& files,
                                 const std::filesystem::path& trusted) {
    RedisServer redis({.tls = ServerTls{files}});
    return tls_probe(redis.port(), {.ca_file = trusted}).verify_result;
  };
  // Reached as 127.0.0.1, a certificate for other.invalid fails the IP address check.
  EXPECT_EQ(verify_result(ca.wrong_name_server(), ca.ca_file()), X509_V_ERR_IP_ADDRESS_MISMATCH);
  EXPECT_EQ(verify_result(ca.expired_server(), ca.ca_file()), X509_V_ERR_CERT_HAS_EXPIRED);
  EXPECT_EQ(verify_result(ca.other_ca_server(), ca.ca_file()),
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  EXPECT_EQ(verify_result(ca.other_ca_server(), ca.other_ca_file()), X509_V_OK);
}

TEST(LocalServers, TlsRedisWithAClientCaAnswersOnlyClientsWithACertificate) {
  const TestCa& ca = TestCa::shared();
  RedisServer redis({.tls = ServerTls{ca.server(), ca.ca_file()}});
  const TlsProbe anonymous{.ca_file = ca.ca_file(), .request = "PING\r\n", .until = "+PONG"};
  EXPECT_EQ(tls_probe(redis.port(), anonymous).reply.find("+PONG"), std::string::npos);
  TlsProbe with_certificate = anonymous;
  with_certificate.client = ca.client();
  EXPECT_NE(tls_probe(redis.port(), with_certificate).reply.find("+PONG"), std::string::npos);
}

TEST(LocalServers, TlsNginxServesOverHttpsOnly) {
  const TestCa& ca = TestCa::shared();
  NginxServer nginx({.tls = ServerTls{ca.server()}});
  std::ofstream(nginx.root() / "hello.txt") << "hello";
  EXPECT_EQ(nginx.url("/hello.txt").rfind("https://127.0.0.1:", 0), 0u);
  const auto reply = tls_probe(
      nginx.port(), {.ca_file = ca.ca_file(),
                     .request = "GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     .until = "\r\n\r\nhello"});
  EXPECT_EQ(reply.verify_result, X509_V_OK);
  EXPECT_NE(reply.reply.find("200 OK"), std::string::npos) << reply.reply;
}
