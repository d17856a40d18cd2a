// The test server itself: FerretDB from the launcher answers the MongoDB protocol, reports the
// connections it holds, and comes back on the same port after a restart.

#include <gtest/gtest.h>
#include <mongoc/mongoc.h>

#include "mongo_server.hpp"

namespace poolkit::test {
namespace {

bool raw_ping(mongoc_client_t* client) {
  bson_t* command = BCON_NEW("ping", BCON_INT32(1));
  bson_error_t error;
  const bool ok = mongoc_client_command_simple(client, "admin", command, nullptr, nullptr, &error);
  bson_destroy(command);
  return ok;
}

class FerretDbLauncher : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = MongoServer::unavailable_reason()) GTEST_SKIP() << *reason;
    mongoc_init();
  }
};

TEST_F(FerretDbLauncher, ServerCountsTheConnectionsItHoldsAndSurvivesARestart) {
  MongoServer server;
  if (server.external()) GTEST_SKIP() << "restarting needs the FerretDB launcher";
  ASSERT_EQ(server.open_connections("unused"), 0);

  mongoc_client_t* client = mongoc_client_new(server.url().c_str());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(raw_ping(client));
  EXPECT_TRUE(
      eventually([&] { return server.open_connections("unused") == 1; }, std::chrono::seconds(10)));

  server.stop();
  server.start();
  // The single-threaded client reconnects on its own once the server is back.
  EXPECT_TRUE(eventually([&] { return raw_ping(client); }, std::chrono::seconds(10)));
  mongoc_client_destroy(client);
  EXPECT_TRUE(
      eventually([&] { return server.open_connections("unused") == 0; }, std::chrono::seconds(10)));
}

}  // namespace
}  // namespace poolkit::test
