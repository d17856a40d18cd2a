// Error::may_have_run(): a transport error says whether any byte of the failed call had been
// written, which is what the Sentinel and Cluster clients decide a repeat by. Faults from a
// stand-in that reads the command and closes (or never answers), and from a real server killed
// while a command waits.

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "hostile_redis_server.hpp"
#include "local_servers/process.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"
#include "redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

RedisSettings settings_for(const std::string& url, int retry_attempts,
                           std::chrono::milliseconds socket_timeout = 2s) {
  RedisSettings settings = test_settings(url, "may-have-run");
  settings.retry_attempts = retry_attempts;
  settings.socket_timeout = socket_timeout;
  return settings;
}

TEST(RedisMayHaveRun, AConnectionLostAfterTheCommandWasReadSaysItMayHaveRun) {
  HostileRedisServer server("INCR", HostileReply::raw_then_close(""));
  redis::Client client(settings_for(server.url(), 3));
  try {
    client.incr("counter");
    FAIL() << "expected a ConnectError";
  } catch (const ConnectError& error) {
    EXPECT_TRUE(error.may_have_run()) << error.what();
    EXPECT_EQ(error.sent(), Sent::maybe);
    EXPECT_TRUE(contains(error.what(), "lost the connection")) << error.what();
  }
  EXPECT_EQ(server.target_commands(), 1) << "INCR may have run: it must not be sent again";
}

// Retried (GET is idempotent); the error after the last attempt still says it may have run.
TEST(RedisMayHaveRun, AnIdempotentCommandLostEveryTimeIsRetriedAndStillSaysItMayHaveRun) {
  HostileRedisServer server("GET", HostileReply::raw_then_close(""));
  redis::Client client(settings_for(server.url(), 2));
  try {
    client.get("key");
    FAIL() << "expected a ConnectError";
  } catch (const ConnectError& error) {
    EXPECT_TRUE(error.may_have_run()) << error.what();
    EXPECT_TRUE(contains(error.what(), "3 attempts")) << error.what();
  }
  EXPECT_EQ(server.target_commands(), 3);
}

TEST(RedisMayHaveRun, ARefusedConnectionSaysNothingWasSent) {
  const int port = local::free_loopback_port();  // nothing listens there
  redis::Client client(settings_for("redis://127.0.0.1:" + std::to_string(port), 0));
  try {
    client.incr("counter");
    FAIL() << "expected a ConnectError";
  } catch (const ConnectError& error) {
    EXPECT_FALSE(error.may_have_run()) << error.what();
    EXPECT_EQ(error.sent(), Sent::no);
  }
}

// The connection the server closed while idle is found before the write: nothing was sent, even
// though the error is a lost connection.
TEST(RedisMayHaveRun, AConnectionFoundClosedBeforeTheWriteSaysNothingWasSent) {
  RedisServer server;
  redis::Client client(settings_for(server.url(), 0));
  client.ping();
  server.set_idle_timeout(1s);
  std::this_thread::sleep_for(2500ms);  // the server's idle sweep runs about once a second
  try {
    client.incr("counter");
    FAIL() << "expected a ConnectError";
  } catch (const ConnectError& error) {
    EXPECT_FALSE(error.may_have_run()) << error.what();
    EXPECT_TRUE(contains(error.what(), "closed by the server while idle")) << error.what();
  }
  server.set_idle_timeout(0s);
  EXPECT_EQ(server.admin_text({"GET", "counter"}), "") << "INCR ran although nothing was sent";
}

TEST(RedisMayHaveRun, ATimeoutAfterTheWriteSaysItMayHaveRun) {
  HostileRedisServer server("INCR", HostileReply::silence());
  redis::Client client(settings_for(server.url(), 3, 200ms));
  try {
    client.incr("counter");
    FAIL() << "expected a TimeoutError";
  } catch (const TimeoutError& error) {
    EXPECT_TRUE(error.may_have_run()) << error.what();
  }
  EXPECT_EQ(server.target_commands(), 1);
}

// A real server killed while a blocking command waits on it: the command was written.
TEST(RedisMayHaveRun, ARealServerKilledMidCommandSaysItMayHaveRun) {
  RedisServer server;
  redis::Client client(settings_for(server.url(), 3, 10s));
  client.ping();
  auto waiting = std::async(std::launch::async, [&] {
    try {
      client.command("BLPOP", "never-filled", "5");
      return std::string("BLPOP returned");
    } catch (const ConnectError& error) {
      return std::string(error.may_have_run() ? "maybe: " : "no: ") + error.what();
    } catch (const std::exception& error) {
      return std::string("other: ") + error.what();
    }
  });
  // BLPOP is written once the server lists it as blocked.
  for (int i = 0; i < 100 && server.admin_text({"INFO", "clients"}).find("blocked_clients:1") ==
                                 std::string::npos;
       ++i) {
    std::this_thread::sleep_for(20ms);
  }
  server.kill();
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  const std::string outcome = waiting.get();
  EXPECT_TRUE(outcome.starts_with("maybe: ")) << outcome;
  EXPECT_TRUE(contains(outcome, "lost the connection")) << outcome;
  server.start();
}

}  // namespace
}  // namespace poolkit::test
