// examples/snippet_service built and run against real servers: it must do its work through
// poolkit::pools(), serve /metrics and /healthz, keep every secret out of its output, and exit 0
// promptly with its pools still open (the default instance's shutdown at exit). The same test
// runs in the thread-sanitizer build, where any race or crash at exit fails the exit status.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "local_servers/ferretdb.hpp"
#include "local_servers/process.hpp"
#include "local_servers/servers.hpp"
#include "poolkit/http.hpp"
#include "poolkit/mongo.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/url.hpp"

using namespace std::chrono_literals;
namespace local = poolkit::local;

namespace {

#ifdef POOLKIT_SNIPPET_SERVICE
constexpr const char* kServiceBinary = POOLKIT_SNIPPET_SERVICE;
#else
constexpr const char* kServiceBinary = "";
#endif

constexpr int kSnippets = 300;
constexpr int kDistinctSnippets = 50;  // the example's cache key space
const std::string kSnippetBody = "int main() { return 0; }\n";

std::string secret() {
  return std::getenv("POOLKIT_TEST_SECRET");
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The log, safe to print in a failure message even if the secret leaked into it.
std::string printable(std::string log) {
  const std::string hidden = secret();
  for (auto at = log.find(hidden); at != std::string::npos; at = log.find(hidden, at))
    log.replace(at, hidden.size(), "<POOLKIT_TEST_SECRET>");
  return log;
}

struct Summary {
  int snippets = -1, fetched = -1, cache_hits = -1, stored = -1, notified = -1, failed = -1;
};

std::optional<Summary> parse_summary(const std::string& log) {
  static const std::regex line(
      R"(summary: snippets=(\d+) fetched=(\d+) cache_hits=(\d+) stored=(\d+) notified=(\d+) failed=(\d+))");
  std::smatch m;
  if (!std::regex_search(log, m, line)) return std::nullopt;
  return Summary{std::stoi(m[1]), std::stoi(m[2]), std::stoi(m[3]),
                 std::stoi(m[4]), std::stoi(m[5]), std::stoi(m[6])};
}

// Real servers for the four clients: redis with a password, FerretDB, and nginx serving the
// snippet (GET) and the webhook (POST /notify; a static file would answer POST with 405).
class SnippetServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (*kServiceBinary == '\0') GTEST_SKIP() << "examples not built (POOLKIT_BUILD_EXAMPLES=OFF)";
    if (auto reason = local::FerretDbServer::unavailable_reason()) GTEST_SKIP() << *reason;
    ferretdb.emplace();
    std::ofstream(nginx.root() / "snippet.txt") << kSnippetBody;
  }

  // Starts the example with the environment a deployment would give it.
  local::ChildProcess start_service(int metrics_port, int hold_ms) {
    return local::ChildProcess(
        {kServiceBinary}, log_file,
        {"REDIS_URL=" + redis.url(), "MONGODB_URL=" + ferretdb->url(),
         "UPSTREAM_URL=" + nginx.url("/snippet.txt"), "NOTIFY_URL=" + nginx.url("/notify"),
         "POOLKIT_METRICS_ADDR=127.0.0.1:" + std::to_string(metrics_port),
         "SNIPPET_COUNT=" + std::to_string(kSnippets), "SNIPPET_WORKERS=8",
         "SNIPPET_HOLD_MS=" + std::to_string(hold_ms)});
  }

  // Waits (bounded) for the summary line, or for the service to end without one.
  std::string wait_for_summary(local::ChildProcess& service) {
    const auto deadline = std::chrono::steady_clock::now() + 180s;
    while (std::chrono::steady_clock::now() < deadline && service.running()) {
      if (contains(local::read_text(log_file), "health: ")) break;
      std::this_thread::sleep_for(50ms);
    }
    return local::read_text(log_file);
  }

  local::RedisServer redis{{.password = secret()}};
  local::NginxServer nginx{{.extra_server_config = "location /notify { return 204; }"}};
  std::optional<local::FerretDbServer> ferretdb;
  local::TempDir dir{"poolkit-example"};
  std::filesystem::path log_file = dir.path() / "snippet_service.log";
};

}  // namespace

TEST_F(SnippetServiceTest, DoesItsWorkServesMetricsAndExitsZeroWithThePoolsOpen) {
  const int metrics_port = local::free_loopback_port();
  local::ChildProcess service = start_service(metrics_port, 8000);  // time to scrape it

  const std::string early_log = wait_for_summary(service);
  ASSERT_TRUE(parse_summary(early_log).has_value()) << printable(early_log);

  // Scraped while the service holds, with its pools in use.
  poolkit::http::SyncClient scraper(poolkit::Settings::defaults().http_sync);
  const std::string base = "http://127.0.0.1:" + std::to_string(metrics_port);
  const auto metrics = scraper.get(base + "/metrics");
  EXPECT_EQ(metrics.status, 200);
  for (const char* layer : {"redis", "mongo", "http", "http_sync"})
    EXPECT_TRUE(contains(metrics.body, std::string("layer=\"") + layer + "\"")) << layer;
  EXPECT_TRUE(contains(
      metrics.body,
      R"(poolkit_operations_total{kind="command",layer="redis",operation="GET",outcome="ok"})"));
  EXPECT_FALSE(contains(metrics.body, secret()));
  const auto healthz = scraper.get(base + "/healthz");
  EXPECT_EQ(healthz.status, 200);
  EXPECT_TRUE(nlohmann::json::parse(healthz.body)["ok"].get<bool>());
  EXPECT_FALSE(contains(healthz.body, secret()));

  // Exits by itself after the hold: no hang and no crash while the static registry goes away.
  const std::optional<int> status = service.wait(120s);
  const std::string log = local::read_text(log_file);
  ASSERT_TRUE(status.has_value()) << "still running 120 s after its summary\n" << printable(log);
  EXPECT_EQ(*status, 0) << printable(log);
  EXPECT_FALSE(contains(log, secret()));  // stdout and stderr, including the health report

  const Summary summary = *parse_summary(log);
  EXPECT_EQ(summary.snippets, kSnippets);
  EXPECT_EQ(summary.failed, 0) << printable(log);
  EXPECT_EQ(summary.stored, kSnippets);
  EXPECT_EQ(summary.notified, kSnippets);
  EXPECT_EQ(summary.fetched + summary.cache_hits, kSnippets);
  EXPECT_GE(summary.fetched, kDistinctSnippets);  // each key missed at least once
  EXPECT_GT(summary.cache_hits, 0);
}

TEST_F(SnippetServiceTest, LeavesTheCacheAndTheEventsInTheBackends) {
  local::ChildProcess service = start_service(local::free_loopback_port(), 0);
  const std::optional<int> status = service.wait(180s);
  ASSERT_TRUE(status.has_value()) << printable(local::read_text(log_file));
  ASSERT_EQ(*status, 0) << printable(local::read_text(log_file));

  poolkit::Settings settings = poolkit::Settings::defaults();
  settings.redis.url = poolkit::parse_url(redis.url());
  poolkit::redis::Client cache(settings.redis);
  for (int key = 0; key < kDistinctSnippets; ++key)
    EXPECT_EQ(cache.get("snippet:" + std::to_string(key)), kSnippetBody) << key;
  EXPECT_EQ(cache.get("snippet:" + std::to_string(kDistinctSnippets)), std::nullopt);
  EXPECT_GT(cache.ttl("snippet:0"), 0);

  settings.mongo.url = poolkit::parse_url(ferretdb->url());
  poolkit::mongo::Client mongo(settings.mongo);
  const auto all =
      nlohmann::json::parse(mongo.run_command_json("snippets", R"({"count": "events"})"));
  EXPECT_EQ(all["n"], kSnippets);
  const auto one = nlohmann::json::parse(mongo.run_command_json(
      "snippets", R"({"count": "events", "query": {"snippet": 57, "key": "snippet:7"}})"));
  EXPECT_EQ(one["n"], 1);
}

TEST(SnippetServiceConfiguration, AMissingUpstreamUrlExitsTwoNamingIt) {
  if (*kServiceBinary == '\0') GTEST_SKIP() << "examples not built (POOLKIT_BUILD_EXAMPLES=OFF)";
  local::TempDir dir{"poolkit-example"};
  const auto log_file = dir.path() / "snippet_service.log";
  local::ChildProcess service({kServiceBinary}, log_file, {"UPSTREAM_URL=", "SNIPPET_COUNT=1"});
  EXPECT_EQ(service.wait(60s), std::optional<int>(2));
  EXPECT_TRUE(contains(local::read_text(log_file), "UPSTREAM_URL is not set"))
      << local::read_text(log_file);
}

TEST(ReadmeSnippet, TheDocumentedCodeIsTheCompiledExampleAndFitsTwentyLines) {
  const std::string compiled = local::read_text(POOLKIT_SOURCE_DIR "/examples/readme_snippet.cpp");
  const std::string doc = local::read_text(POOLKIT_SOURCE_DIR "/README.md");
  const auto start = doc.find("```cpp\n");
  ASSERT_NE(start, std::string::npos) << "no ```cpp block in README.md";
  const auto end = doc.find("```", start + 7);
  ASSERT_NE(end, std::string::npos);
  const std::string documented = doc.substr(start + 7, end - start - 7);
  EXPECT_EQ(documented, compiled);
  EXPECT_LE(std::count(compiled.begin(), compiled.end(), '\n'), 20);
}
