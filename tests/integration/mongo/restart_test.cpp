// The server stops (cleanly or by crash) and comes back on the same port while eight threads
// keep working: no caller waits past its timeouts, every failure is a typed poolkit::Error, and
// work resumes once the server is back.

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "mongo_test_support.hpp"
#include "poolkit/error.hpp"
#include "restart_load.hpp"

namespace poolkit::test {
namespace {

using mongo::Client;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Faults only a server the tests started can have.
class FerretDbFaults : public MongoTest {
 protected:
  void SetUp() override {
    MongoTest::SetUp();
    if (!IsSkipped() && server().external()) GTEST_SKIP() << "stopping the server needs FerretDB";
  }
};

class MongoRestart : public FerretDbFaults, public ::testing::WithParamInterface<bool> {};
class MongoUnresponsive : public FerretDbFaults {};

TEST_P(MongoRestart, ServerRestartedMidLoadGivesTypedFailuresNoHangAndWorkResumes) {
  const bool crash = GetParam();
  MongoSettings s = settings();
  s.max_pool_size = 4;
  s.min_pool_size = 2;
  s.wait_queue_timeout = 2000ms;
  s.server_selection_timeout = 1000ms;
  s.connect_timeout = 1000ms;
  s.socket_timeout = 2000ms;
  s.heartbeat_frequency = 500ms;
  Client client(s, fast_maintenance());
  const std::string collection = collection_name();

  Outcomes outcomes;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&] { work(client, collection, outcomes, stop); });
  }

  const bool worked_before = eventually([&] { return outcomes.ok > 50; }, 10s);
  server().stop(crash);
  const bool failed_while_down = eventually([&] { return outcomes.failures() > 0; }, 10s);
  std::this_thread::sleep_for(500ms);
  server().start();
  const int ok_at_restart = outcomes.ok;
  const bool resumed = eventually([&] { return outcomes.ok > ok_at_restart + 50; }, 20s);
  stop = true;
  for (auto& worker : workers) worker.join();

  EXPECT_TRUE(worked_before);
  EXPECT_TRUE(failed_while_down);
  EXPECT_TRUE(resumed);
  std::lock_guard lock(outcomes.mutex);
  std::string summary = "ok " + std::to_string(outcomes.ok.load());
  for (const auto& [kind, count] : outcomes.errors)
    summary += ", " + kind + " " + std::to_string(count);
  std::cout << "outcomes: " << summary << "; slowest " << outcomes.slowest_ms.load() << " ms\n";
  EXPECT_EQ(outcomes.errors.count("untyped"), 0u);
  for (const auto& [kind, count] : outcomes.errors) {
    // The pool's wait, the driver's server selection and connect, or a lost connection.
    EXPECT_TRUE(kind == "pool_timeout" || kind == "connect" || kind == "timeout" ||
                kind == "pool_cleared")
        << kind << " x" << count;
  }
  // Longest possible: the pool wait, then opening (selection + connect), then one socket read.
  EXPECT_LT(outcomes.slowest_ms.load(), 2000 + 1000 + 1000 + 2000 + 2000);
  const mongo::MongoStats stats = client.stats();
  EXPECT_GT(stats.monitoring.heartbeats_failed, 0u);
  EXPECT_LE(stats.pool.total, 4u);
}

// A server that stops answering: a command on an open connection fails with TimeoutError after
// MONGODB_SOCKET_TIMEOUT_MS, and opening a new connection fails with ConnectError within
// MONGODB_SERVER_SELECTION_TIMEOUT_MS plus one MONGODB_CONNECT_TIMEOUT_MS.
TEST_F(MongoUnresponsive, SocketAndConnectTimeoutsBoundEveryWait) {
  MongoSettings s = settings();
  s.min_pool_size = 0;
  s.max_pool_size = 2;
  s.socket_timeout = 500ms;
  s.connect_timeout = 300ms;
  s.server_selection_timeout = 800ms;
  Client client(s);
  auto lease = client.checkout();
  bson_t* find = BCON_NEW("find", BCON_UTF8("anything"), "filter", "{", "}");
  client.run_command(lease, "poolkit_test", *find);  // connected and answering

  server().pause();
  auto started = Clock::now();
  EXPECT_THROW(client.run_command(lease, "poolkit_test", *find), TimeoutError);
  const auto command_wait = Clock::now() - started;
  EXPECT_GE(command_wait, 450ms);  // libmongoc's poll may wake a little early
  EXPECT_LT(command_wait, 5s);

  started = Clock::now();
  EXPECT_THROW((void)client.checkout(), ConnectError);  // the pool opens a second connection
  const auto open_wait = Clock::now() - started;
  EXPECT_LT(open_wait, 800ms + 300ms + 3s);
  server().resume();
  bson_destroy(find);

  lease.release();  // marked broken by run_command: closed, not reused
  EXPECT_NO_THROW(client.ping());
}

INSTANTIATE_TEST_SUITE_P(StopKinds, MongoRestart, ::testing::Values(false, true),
                         [](const auto& param_info) {
                           return param_info.param ? "Crash" : "CleanStop";
                         });

}  // namespace
}  // namespace poolkit::test
