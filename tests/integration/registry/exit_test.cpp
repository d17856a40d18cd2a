// The process-wide default instance at exit: a process that returns from main with every pool of
// poolkit::pools() open (and in use a moment before) exits 0 promptly, with libmongoc cleaned up
// only after its last client (see exit_child/main.cpp). Under the thread sanitizer, a race or a
// crash during static destruction fails the exit status as well.

#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <string>

#include "local_servers/ferretdb.hpp"
#include "local_servers/process.hpp"
#include "local_servers/servers.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/url.hpp"

using namespace std::chrono_literals;
namespace local = poolkit::local;

TEST(PoolsAtExit, AProcessReturningWithEveryPoolOpenExitsZeroInOrder) {
  if (auto reason = local::FerretDbServer::unavailable_reason()) GTEST_SKIP() << *reason;
  local::RedisServer redis{{.password = std::getenv("POOLKIT_TEST_SECRET")}};
  local::NginxServer nginx;
  local::FerretDbServer ferretdb;
  std::ofstream(nginx.root() / "ok.txt") << "ok";
  local::TempDir dir{"poolkit-exit"};
  const auto log_file = dir.path() / "exit_child.log";

  for (int run = 0; run < 3; ++run) {  // the shutdown races, if any, get a few chances
    local::ChildProcess child({POOLKIT_REGISTRY_EXIT_CHILD}, log_file,
                              {"REDIS_URL=" + redis.url(), "MONGODB_URL=" + ferretdb.url(),
                               "MONGODB_MIN_POOL_SIZE=2",  // the pool's own thread opens some
                               "EXIT_CHILD_HTTP_URL=" + nginx.url("/ok.txt")});
    const std::optional<int> status = child.wait(120s);
    ASSERT_TRUE(status.has_value()) << "run " << run << ": no exit within 120 s (a hang at exit)";
    // The log holds no secret: the child prints nothing but errors, which never carry one.
    ASSERT_EQ(*status, 0) << "run " << run << ":\n" << local::read_text(log_file);
  }
  poolkit::Settings settings = poolkit::Settings::defaults();
  settings.redis.url = poolkit::parse_url(redis.url());
  EXPECT_EQ(poolkit::redis::Client(settings.redis).exists({"exit:0", "exit:3"}), 2);  // it worked
}
