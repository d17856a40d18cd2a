// `poolkit check` against real backends: healthy, one stopped, invalid configuration.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "local_servers/ferretdb.hpp"
#include "local_servers/servers.hpp"

namespace {

struct CommandRun {
  int status = -1;
  std::string output;
};

// Runs `poolkit check ARGS` with the given environment only (plus PATH), stdout and stderr
// together. The command line holds the password, but it is never printed.
CommandRun check(const std::string& environment, const std::string& arguments) {
#ifdef POOLKIT_CLI
  const std::string command =
      "env -i PATH=/usr/bin:/bin " + environment + " " POOLKIT_CLI " check " + arguments + " 2>&1";
  CommandRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  char buffer[4096];
  for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;)
    run.output.append(buffer, got);
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
#else
  (void)environment;
  (void)arguments;
  return {};
#endif
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class CheckCommand : public ::testing::Test {
 protected:
  void SetUp() override {
#ifndef POOLKIT_CLI
    GTEST_SKIP() << "the poolkit CLI is not part of this build";
#endif
    if (auto reason = poolkit::local::FerretDbServer::unavailable_reason()) GTEST_SKIP() << *reason;
    ferretdb.emplace();
    std::ofstream(nginx.root() / "ok.txt") << "ok";
    environment = "REDIS_URL=" + redis.url() + " MONGODB_URL=" + ferretdb->url() +
                  " MONGODB_SERVER_SELECTION_TIMEOUT_MS=1000 MONGODB_CONNECT_TIMEOUT_MS=1000"
                  " REDIS_CONNECT_TIMEOUT=1 REDIS_RETRY_ATTEMPTS=0";
  }

  std::string secret = std::getenv("POOLKIT_TEST_SECRET");
  poolkit::local::RedisServer redis{{.password = secret}};
  poolkit::local::NginxServer nginx;
  std::optional<poolkit::local::FerretDbServer> ferretdb;
  std::string environment;
};

}  // namespace

TEST_F(CheckCommand, AllHealthyBackendsExitZeroWithVersionsAndPoolState) {
  const CommandRun run = check(environment, "--http-url " + nginx.url("/ok.txt"));
  EXPECT_EQ(run.status, 0);
  EXPECT_TRUE(contains(run.output, "redis_version")) << run.output.substr(0, 2000);
  EXPECT_TRUE(contains(run.output, "server_version"));
  EXPECT_TRUE(contains(run.output, "HTTP 200"));
  EXPECT_TRUE(contains(run.output, "all configured backends are healthy"));
  EXPECT_TRUE(contains(run.output, ":****@"));  // the Redis address, masked
  EXPECT_FALSE(contains(run.output, secret));
  // libmongoc warns when a client closes against FerretDB (no endSessions): a healthy check
  // prints nothing of it.
  EXPECT_FALSE(contains(run.output, "endSessions")) << run.output.substr(0, 2000);
  EXPECT_FALSE(contains(run.output, "WARNING")) << run.output.substr(0, 2000);
}

TEST_F(CheckCommand, AnHttpProbeAnswering404ExitsOneAndShowsTheStatus) {
  const CommandRun run = check(environment, "--only http_sync --http-url " + nginx.url("/none"));
  EXPECT_EQ(run.status, 1) << run.output.substr(0, 2000);
  EXPECT_TRUE(contains(run.output, "answered HTTP 404")) << run.output.substr(0, 2000);
}

TEST_F(CheckCommand, AStoppedBackendExitsOneAndNamesTheFailedLayer) {
  redis.kill();
  const CommandRun run = check(environment, "--json");
  EXPECT_EQ(run.status, 1);
  const auto json = nlohmann::json::parse(run.output.substr(run.output.find('{')));
  EXPECT_FALSE(json["ok"].get<bool>());
  for (const auto& layer : json["layers"]) {
    if (layer["layer"] == "redis") {
      EXPECT_FALSE(layer["ok"].get<bool>());
      EXPECT_FALSE(layer["error"].get<std::string>().empty());
    }
    if (layer["layer"] == "mongo") {
      EXPECT_TRUE(layer["ok"].get<bool>());
    }
  }
  EXPECT_FALSE(contains(run.output, secret));
}

TEST_F(CheckCommand, OnlyChecksTheLayersAskedFor) {
  ferretdb->stop();
  const CommandRun run = check(environment, "--only redis --json");
  EXPECT_EQ(run.status, 0) << run.output.substr(0, 2000);
  const auto json = nlohmann::json::parse(run.output.substr(run.output.find('{')));
  ASSERT_EQ(json["layers"].size(), 1u);
  EXPECT_EQ(json["layers"][0]["layer"], "redis");
}

TEST_F(CheckCommand, InvalidConfigurationExitsTwoWithoutConnecting) {
  const CommandRun bad_value = check(environment + " REDIS_MAX_CONNECTIONS=10x", "");
  EXPECT_EQ(bad_value.status, 2);
  EXPECT_TRUE(contains(bad_value.output, "REDIS_MAX_CONNECTIONS"));
  const CommandRun bad_layer = check(environment, "--only memcached");
  EXPECT_EQ(bad_layer.status, 2);
  EXPECT_TRUE(contains(bad_layer.output, "unknown layer"));
  EXPECT_FALSE(contains(bad_value.output + bad_layer.output, secret));
}

// A Sentinel and a cluster node answer PING; check says what REDIS_URL points at and fails.
TEST_F(CheckCommand, ARedisUrlPointingAtASentinelOrAClusterNodeFailsAndSaysSo) {
  using Role = poolkit::local::RedisServer::Options::Role;
  poolkit::local::RedisServer sentinel({.role = Role::sentinel});
  const CommandRun at_sentinel = check("REDIS_URL=" + sentinel.url(), "--only redis");
  EXPECT_EQ(at_sentinel.status, 1) << at_sentinel.output;
  EXPECT_TRUE(contains(at_sentinel.output, "Redis Sentinel")) << at_sentinel.output;
  EXPECT_TRUE(contains(at_sentinel.output, "get-master-addr-by-name")) << at_sentinel.output;

  poolkit::local::RedisServer node({.role = Role::cluster_node});
  const CommandRun at_node = check("REDIS_URL=" + node.url(), "--only redis");
  EXPECT_EQ(at_node.status, 1) << at_node.output;
  EXPECT_TRUE(contains(at_node.output, "Redis Cluster node")) << at_node.output;
}

TEST_F(CheckCommand, CertificateChecksTurnedOffAreWarnedAboutOnAHealthyRun) {
  const CommandRun run =
      check(environment + " HTTP_TLS_VERIFY=false REDIS_SSL_CERT_REQS=none", "--only redis");
  EXPECT_EQ(run.status, 0) << run.output;
  EXPECT_TRUE(
      contains(run.output, "warning: HTTP_TLS_VERIFY=false: certificate verification is off"))
      << run.output;
  EXPECT_TRUE(contains(run.output, "warning: REDIS_SSL_CERT_REQS=none")) << run.output;
}
