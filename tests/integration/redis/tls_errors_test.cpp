// TLS failures against real redis-servers: each certificate problem is a TlsError naming
// host:port, the cause in words and the setting to change, found at once (no retry storm);
// mutual TLS; verification turned off; a plain-text client on a TLS port and the reverse; no
// secret in any message.

#include <gtest/gtest.h>

#include <optional>

#include "local_servers/servers.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "redis_server.hpp"
#include "tls_redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string host_port(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

struct Failure {
  std::string message;
  bool tls = false;  // a TlsError
  Clock::duration took{};
  std::uint64_t connection_errors = 0;  // connections that failed to open
  std::uint64_t retries = 0;
};

// One call of a fresh client; what it threw and how many attempts it made.
Failure failure_of(const RedisSettings& settings) {
  const auto started = Clock::now();
  std::optional<redis::Client> client;
  Failure failure;
  try {
    client.emplace(settings);
    client->get("k");
    ADD_FAILURE() << "the call succeeded";
  } catch (const TlsError& error) {
    failure = {error.what(), true, Clock::now() - started};
  } catch (const std::exception& error) {
    failure = {error.what(), false, Clock::now() - started};
  }
  if (client) {
    const auto stats = client->stats();
    failure.connection_errors = stats.pool.failures_by(CheckOutFailure::connection_error);
    failure.retries = stats.retries;
  }
  return failure;
}

// A certificate failure: TlsError with host:port and the cause, fast, one connection attempt
// (it is not retried), nothing secret.
void expect_certificate_failure(const TlsRedisServer& server, const RedisSettings& settings,
                                const std::vector<std::string>& words) {
  const Failure failure = failure_of(settings);
  EXPECT_TRUE(failure.tls) << failure.message;
  EXPECT_TRUE(contains(failure.message, "TLS to " + host_port(server.port()) + " failed: "))
      << failure.message;
  for (const auto& word : words) EXPECT_TRUE(contains(failure.message, word)) << failure.message;
  EXPECT_FALSE(contains(failure.message, test_secret()));
  EXPECT_EQ(failure.connection_errors, 1u) << "a certificate failure must not be retried";
  EXPECT_EQ(failure.retries, 0u);
  EXPECT_LT(failure.took, 1500ms);
}

RedisSettings settings_for(const std::string& url) {
  auto settings = test_settings(url, "tls-errors");
  settings.retry_attempts = 3;
  return settings;
}

TEST(RedisTlsErrors, UnknownIssuerNamesTheCaSettingAndItsFile) {
  TlsRedisServer server;
  const std::string other_ca = std::filesystem::path(TlsRedisServer::ca().other_ca_file());
  expect_certificate_failure(server, settings_for(server.url_trusting(other_ca)),
                             {"unknown issuer", "ssl_ca_certs in REDIS_URL", other_ca});
  // From the setting rather than the URL, the message names the variable.
  auto settings = settings_for(server.url_trusting(""));
  settings.tls.ca_file = other_ca;
  expect_certificate_failure(server, settings, {"unknown issuer", "REDIS_SSL_CA_CERTS"});
}

TEST(RedisTlsErrors, WrongNameSaysHostnameMismatchAndHowToTurnTheCheckOff) {
  TlsRedisServer server({.certificate = TlsRedisServer::Certificate::wrong_name});
  expect_certificate_failure(server, settings_for(server.url()),
                             {"mismatch", "not for 127.0.0.1", "REDIS_SSL_CHECK_HOSTNAME"});
  // check_hostname off: the chain is still verified, and the name no longer matters.
  redis::Client relaxed(settings_for(server.url() + "&ssl_check_hostname=false"));
  EXPECT_NO_THROW(relaxed.ping());
}

TEST(RedisTlsErrors, ExpiredCertificateSaysExpired) {
  TlsRedisServer server({.certificate = TlsRedisServer::Certificate::expired});
  expect_certificate_failure(server, settings_for(server.url()), {"expired"});
}

TEST(RedisTlsErrors, CertReqsNoneConnectsToAnyServerAndIsSaidInTheUrlOrTheSetting) {
  TlsRedisServer wrong_name({.certificate = TlsRedisServer::Certificate::wrong_name});
  const std::string other_ca = std::filesystem::path(TlsRedisServer::ca().other_ca_file());
  redis::Client by_url(settings_for(wrong_name.url_trusting(other_ca) + "&ssl_cert_reqs=none"));
  EXPECT_TRUE(by_url.set("k", "v"));
  auto settings = settings_for(wrong_name.url_trusting(""));
  settings.tls.verify_peer = false;
  redis::Client by_setting(settings);
  EXPECT_EQ(by_setting.get("k"), "v");
}

TEST(RedisTlsErrors, MutualTlsWithoutAClientCertificateSaysSoAndWithOneWorks) {
  TlsRedisServer server({.require_client_certificate = true});
  const Failure failure = failure_of(settings_for(server.url()));
  EXPECT_TRUE(failure.tls) << failure.message;
  EXPECT_TRUE(contains(failure.message, "TLS to " + host_port(server.port()))) << failure.message;
  EXPECT_TRUE(contains(failure.message, "client certificate")) << failure.message;
  EXPECT_TRUE(contains(failure.message, "REDIS_SSL_CERTFILE")) << failure.message;
  EXPECT_FALSE(contains(failure.message, test_secret()));
  EXPECT_LT(failure.took, 3s);

  const auto client_files = TlsRedisServer::ca().client();
  const std::string cert = std::filesystem::path(client_files.cert);
  const std::string key = std::filesystem::path(client_files.key);
  redis::Client by_url(
      settings_for(server.url() + "&ssl_certfile=" + cert + "&ssl_keyfile=" + key));
  EXPECT_TRUE(by_url.set("k", "v"));
  auto settings = settings_for(server.url());
  settings.tls.cert_file = cert;
  settings.tls.key_file = key;
  redis::Client by_setting(settings);
  EXPECT_EQ(by_setting.get("k"), "v");
}

TEST(RedisTlsErrors, ARedissClientOnAPlainTextPortFailsClearlyWithinTheConnectTimeout) {
  RedisServer plain;
  auto settings = settings_for("rediss://:" + test_secret() +
                               "@127.0.0.1:" + std::to_string(plain.port()) + "/0");
  settings.connect_timeout = 1s;
  const Failure failure = failure_of(settings);
  EXPECT_TRUE(failure.tls) << failure.message;
  EXPECT_TRUE(contains(failure.message, "TLS to " + host_port(plain.port()))) << failure.message;
  EXPECT_TRUE(contains(failure.message, "TLS port")) << failure.message;
  EXPECT_FALSE(contains(failure.message, test_secret()));
  EXPECT_LT(failure.took, 1900ms);  // one connect timeout, not one per retry
}

TEST(RedisTlsErrors, APlainTextClientOnATlsPortFailsClearlyWithinTheConnectTimeout) {
  TlsRedisServer server;
  auto settings = settings_for("redis://:" + test_secret() +
                               "@127.0.0.1:" + std::to_string(server.port()) + "/0");
  settings.connect_timeout = 1s;
  settings.retry_attempts = 0;
  const Failure failure = failure_of(settings);
  EXPECT_FALSE(failure.message.empty());
  EXPECT_TRUE(contains(failure.message, "rediss://")) << failure.message;
  EXPECT_FALSE(contains(failure.message, test_secret()));
  EXPECT_LT(failure.took, 1900ms);
}

TEST(RedisTlsErrors, ABadFileInTheUrlIsAConfigErrorNamingTheOptionAndThePath) {
  TlsRedisServer server;
  for (const std::string option : {"ssl_ca_certs", "ssl_certfile", "ssl_keyfile"}) {
    try {
      redis::Client client(server.url_trusting("") + "?" + option + "=/nonexistent/file.pem");
      ADD_FAILURE() << option << ": expected ConfigError";
    } catch (const ConfigError& error) {
      EXPECT_TRUE(contains(error.what(), option)) << error.what();
      EXPECT_TRUE(contains(error.what(), "/nonexistent/file.pem")) << error.what();
      EXPECT_FALSE(contains(error.what(), test_secret()));
    }
  }
}

TEST(RedisTlsErrors, TheAddressMasksThePasswordButNotTheHost) {
  TlsRedisServer server;
  redis::Client client(server.url());
  EXPECT_TRUE(contains(client.address(),
                       "rediss://:****@127.0.0.1:" + std::to_string(server.port()) + "/0"))
      << client.address();
  EXPECT_FALSE(contains(client.address(), test_secret()));
}

}  // namespace
}  // namespace poolkit::test
