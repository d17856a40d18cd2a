// examples/redis_async_coroutines.cpp run against a real redis-server: 1,000 coroutines get
// their replies, one resumes on a thread of its own, and the process exits 0 with the registry
// still open (its shutdown at exit joins the I/O thread).

#include <gtest/gtest.h>

#include <string>

#include "local_servers/process.hpp"
#include "redis_server.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;

#ifdef POOLKIT_REDIS_ASYNC_EXAMPLE
constexpr const char* kExample = POOLKIT_REDIS_ASYNC_EXAMPLE;
#else
constexpr const char* kExample = "";
#endif

TEST(AsyncRedisExample, CoroutinesCountPageViewsAndExitCleanly) {
  if (*kExample == '\0') GTEST_SKIP() << "examples not built (POOLKIT_BUILD_EXAMPLES=OFF)";
  RedisServer server;
  local::TempDir dir{"poolkit-async-example"};
  const auto log_file = dir.path() / "example.log";
  local::ChildProcess example({kExample}, log_file,
                              {"REDIS_URL=" + server.url(), "REDIS_MODE=standalone"});
  EXPECT_EQ(example.wait(60s), std::optional<int>(0)) << local::read_text(log_file);
  const std::string output = local::read_text(log_file);
  EXPECT_NE(output.find("1000 requests, 0 failed"), std::string::npos) << output;
  EXPECT_NE(output.find("runs on another thread"), std::string::npos) << output;
  EXPECT_EQ(output.find(test_secret()), std::string::npos) << "the password leaked";
  EXPECT_EQ(server.admin_text({"GET", "example:page:0"}), "100");
}

}  // namespace
}  // namespace poolkit::test
