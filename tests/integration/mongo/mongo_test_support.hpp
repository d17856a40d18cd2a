#pragma once
// A server per test suite and small libmongoc helpers for the MongoDB client tests.

#include <gtest/gtest.h>
#include <mongoc/mongoc.h>

#include <memory>
#include <string>

#include "mongo_server.hpp"
#include "poolkit/mongo.hpp"

namespace poolkit::test {

class MongoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!MongoServer::unavailable_reason()) server_ = std::make_unique<MongoServer>();
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    if (auto reason = MongoServer::unavailable_reason()) GTEST_SKIP() << *reason;
  }

  static MongoServer& server() { return *server_; }

  // The defaults of docs/configuration.md for this server, with an application name unique to the
  // test (so a real MongoDB can count this test's connections).
  static MongoSettings settings() {
    MongoSettings s = server_->settings();
    s.appname = appname();
    return s;
  }

  static std::string appname() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string("poolkit-") + info->name();
  }

  // A collection name unique to the test.
  static std::string collection_name() { return appname(); }

  static std::optional<int> server_connections() { return server_->open_connections(appname()); }

  // Fast maintenance so idle closing and the warm minimum show up quickly.
  static mongo::ClientOptions fast_maintenance() {
    mongo::ClientOptions options;
    options.background_interval = std::chrono::milliseconds(50);
    return options;
  }

 private:
  static inline std::unique_ptr<MongoServer> server_;
};

using mongo::Collection;

}  // namespace poolkit::test
