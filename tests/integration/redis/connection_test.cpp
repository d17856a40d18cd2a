// What happens when a connection opens: URL forms, AUTH, SELECT, CLIENT SETNAME.

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/socket.h>

#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/url.hpp"
#include "redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;

using RedisConnect = SharedRedisServer;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(RedisConnect, AuthenticatesWithRequirepass) {
  redis::Client client(test_settings(server_->url()));
  EXPECT_EQ(client.command("ACL", "WHOAMI").as_string(), "default");
}

TEST_F(RedisConnect, AuthenticatesAsAnAclUserWithAPercentEncodedPassword) {
  redis::Client client(test_settings(server_->acl_url()));
  EXPECT_EQ(client.command("ACL", "WHOAMI").as_string(), RedisServer::kAclUser);
  EXPECT_TRUE(client.set("acl-key", "v"));
}

TEST_F(RedisConnect, WrongPasswordIsAServerErrorThatHidesThePassword) {
  const std::string wrong = test_secret() + "wrong";
  auto settings =
      test_settings("redis://:" + wrong + "@127.0.0.1:" + std::to_string(server_->port()));
  redis::Client client(settings);
  try {
    client.ping();
    FAIL() << "expected ServerError";
  } catch (const ServerError& error) {
    const std::string message = error.what();
    EXPECT_TRUE(contains(message, "WRONGPASS")) << "message: " << redact_url_text(message);
    EXPECT_TRUE(contains(message, "refused the credentials"));
    EXPECT_FALSE(contains(message, test_secret()));
  }
  EXPECT_EQ(client.stats().retries, 0u);  // a credentials problem is not retried
}

TEST_F(RedisConnect, MissingPasswordIsRefused) {
  redis::Client client(test_settings("redis://127.0.0.1:" + std::to_string(server_->port())));
  EXPECT_THROW(client.command("SET", "k", "v"), ServerError);
}

TEST_F(RedisConnect, SelectsTheDatabaseFromThePath) {
  redis::Client client(test_settings(server_->url("/3")));
  client.set("in-db-3", "yes");
  EXPECT_TRUE(contains(client.command("CLIENT", "INFO").as_string(), " db=3 "));
  redis::Client db0(test_settings(server_->url("/0")));
  EXPECT_EQ(db0.get("in-db-3"), std::nullopt);
}

TEST_F(RedisConnect, DbQueryParameterWinsOverThePath) {
  redis::Client client(test_settings(server_->url("/3?db=5")));
  EXPECT_TRUE(contains(client.command("CLIENT", "INFO").as_string(), " db=5 "));
}

TEST_F(RedisConnect, ConnectsOverAUnixSocketWithDbParameter) {
  redis::Client client(
      test_settings("unix://:" + test_secret() + "@" + server_->socket_path() + "?db=2"));
  client.set("over-unix", "1");
  const std::string info = client.command("CLIENT", "INFO").as_string();
  EXPECT_TRUE(contains(info, " db=2 "));
  EXPECT_TRUE(contains(info, "addr=/") || contains(info, "laddr=/")) << info;
}

TEST_F(RedisConnect, ClientNameFromSettingsIsVisibleInClientList) {
  redis::Client client(test_settings(server_->url(), "orders-service"));
  client.ping();
  EXPECT_EQ(server_->count_clients("orders-service"), 1);
}

TEST_F(RedisConnect, ClientNameDefaultsToTheProcessName) {
  auto settings = test_settings(server_->url());
  settings.client_name.reset();
  redis::Client client(settings);
  client.ping();
  // /proc/self/comm holds at most 15 characters of the executable's name.
  EXPECT_EQ(server_->count_clients(std::string("poolkit_redis_tests").substr(0, 15)), 1);
}

TEST_F(RedisConnect, TcpConnectionsHaveKeepaliveAndTheSocketTimeoutOnReadsAndWrites) {
  auto settings = test_settings(server_->url());
  settings.socket_timeout = 1500ms;
  redis::Client client(settings);
  client.with_connection([](redis::Connection& connection) {
    const int fd = connection.native()->fd;
    int keepalive = 0;
    socklen_t length = sizeof keepalive;
    ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &length), 0);
    EXPECT_EQ(keepalive, 1);
    for (const int option : {SO_RCVTIMEO, SO_SNDTIMEO}) {
      timeval timeout{};
      length = sizeof timeout;
      ASSERT_EQ(::getsockopt(fd, SOL_SOCKET, option, &timeout, &length), 0);
      EXPECT_EQ(timeout.tv_sec, 1);
      EXPECT_EQ(timeout.tv_usec, 500'000);
    }
  });
}

TEST_F(RedisConnect, RejectsABadTlsOptionInARedissUrlWithoutQuotingThePassword) {
  try {
    redis::Client client(
        test_settings("rediss://:" + test_secret() + "@127.0.0.1:6380/0?ssl_cert_reqs=maybe"));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_TRUE(contains(error.what(), "ssl_cert_reqs")) << error.what();
    EXPECT_FALSE(contains(error.what(), test_secret()));
  }
}

TEST_F(RedisConnect, RejectsAMissingUrlAndABadDatabase) {
  RedisSettings settings = Settings::defaults().redis;
  EXPECT_THROW(redis::Client{settings}, ConfigError);
  EXPECT_THROW(redis::Client{test_settings(server_->url("/abc"))}, ConfigError);
  EXPECT_THROW(redis::Client{test_settings(server_->url("/0?db=-1"))}, ConfigError);
}

TEST_F(RedisConnect, ConnectionRefusedIsAConnectErrorNamingTheAddressAfterRetries) {
  auto settings = test_settings("redis://127.0.0.1:" + std::to_string(free_loopback_port()));
  settings.retry_attempts = 2;
  redis::Client client(settings);
  const auto started = std::chrono::steady_clock::now();
  try {
    client.get("k");
    FAIL() << "expected ConnectError";
  } catch (const ConnectError& error) {
    EXPECT_TRUE(contains(error.what(), "127.0.0.1")) << error.what();
    EXPECT_TRUE(error.retryable());
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(client.stats().retries, 2u);
}

TEST_F(RedisConnect, OpenUnpooledGivesADedicatedConnection) {
  redis::Client client(test_settings(server_->url(), "unpooled"));
  {
    redis::Connection connection = client.open_unpooled();
    EXPECT_EQ(connection.command("PING").as_string(), "PONG");
    EXPECT_EQ(server_->count_clients("unpooled"), 1);
  }
  EXPECT_EQ(client.stats().pool.created, 0u);
}

}  // namespace
}  // namespace poolkit::test
