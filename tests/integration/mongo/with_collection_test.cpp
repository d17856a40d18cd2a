// mongo::Client from a URL and Options, and with_collection(): libmongoc calls on a leased
// collection whose failures become typed poolkit errors, a network failure closing the
// connection instead of returning it to the pool.

#include <thread>

#include "mongo_test_support.hpp"
#include "poolkit/error.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class MongoWithCollection : public MongoTest {
 protected:
  mongo::Client client_from_url() {
    return mongo::Client(server().url(), {.max_pool_size = 2,
                                          .min_pool_size = 0,
                                          .server_selection_timeout = 1000ms,
                                          .appname = appname()});
  }

  static bool insert_id(mongoc_collection_t* collection, bson_error_t& error, int id) {
    bson_t* doc = BCON_NEW("_id", BCON_INT32(id));
    const bool ok = mongoc_collection_insert_one(collection, doc, nullptr, nullptr, &error);
    bson_destroy(doc);
    return ok;
  }

  static std::int64_t count_all(mongoc_collection_t* collection, bson_error_t& error) {
    bson_t everything = BSON_INITIALIZER;
    return mongoc_collection_count_documents(collection, &everything, nullptr, nullptr, nullptr,
                                             &error);
  }
};

TEST_F(MongoWithCollection, AClientFromAUrlRunsFunctionsOnTheCollection) {
  mongo::Client client = client_from_url();
  EXPECT_EQ(client.pool_stats().max_size, 2u);
  const std::string name = collection_name();
  for (int id = 0; id < 3; ++id) {
    client.with_collection("poolkit_test", name, [&](mongoc_collection_t* c, bson_error_t& error) {
      return insert_id(c, error, id);
    });
  }
  std::int64_t count = -1;
  client.with_collection(
      "poolkit_test", name,
      [&](mongoc_collection_t* c, bson_error_t& error) {
        count = count_all(c, error);
        return count >= 0;
      },
      "count");
  EXPECT_EQ(count, 3);
  EXPECT_EQ(client.pool_stats().closed_total(), 0u);
  EXPECT_EQ(client.pool_stats().created, 1u);
}

TEST_F(MongoWithCollection, AServerRefusalIsAServerErrorNamingTheOperationAndKeepsTheConnection) {
  mongo::Client client = client_from_url();
  const std::string name = collection_name();
  auto insert_seven = [](mongoc_collection_t* c, bson_error_t& error) {
    return insert_id(c, error, 7);
  };
  client.with_collection("poolkit_test", name, insert_seven, "insert");
  try {
    client.with_collection("poolkit_test", name, insert_seven, "insert");
    FAIL() << "expected ServerError for a duplicate key";
  } catch (const ServerError& error) {
    EXPECT_NE(std::string(error.what()).find("insert on poolkit_test." + name), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(client.pool_stats().closed_total(), 0u);
  EXPECT_EQ(client.pool_stats().idle, 1u);
}

TEST_F(MongoWithCollection, ALeaseOfTheCallersOwnIsUsedAndLeftToIt) {
  mongo::Client client = client_from_url();
  auto lease = client.checkout();
  client.with_collection(
      lease, "poolkit_test", collection_name(),
      [](mongoc_collection_t* c, bson_error_t& error) { return insert_id(c, error, 1); });
  EXPECT_EQ(client.pool_stats().in_use, 1u);
}

TEST_F(MongoWithCollection, AnExceptionFromTheFunctionPassesThroughAndReturnsTheConnection) {
  mongo::Client client = client_from_url();
  EXPECT_THROW(client.with_collection("poolkit_test", collection_name(),
                                      [](mongoc_collection_t*, bson_error_t&) -> bool {
                                        throw std::runtime_error("the caller's own failure");
                                      }),
               std::runtime_error);
  EXPECT_EQ(client.pool_stats().closed_total(), 0u);
  EXPECT_EQ(client.pool_stats().idle, 1u);
}

class MongoWithCollectionFaults : public MongoWithCollection {
 protected:
  void SetUp() override {
    MongoWithCollection::SetUp();
    if (!IsSkipped() && server().external()) GTEST_SKIP() << "stopping the server needs FerretDB";
  }
};

TEST_F(MongoWithCollectionFaults, ANetworkErrorClosesTheConnectionAndIsTyped) {
  mongo::Client client = client_from_url();
  const std::string name = collection_name();
  auto count = [](mongoc_collection_t* c, bson_error_t& error) { return count_all(c, error) >= 0; };
  client.with_collection("poolkit_test", name, count, "count");
  ASSERT_EQ(client.pool_stats().created, 1u);

  server().stop(/*crash=*/true);
  const auto started = Clock::now();
  try {
    client.with_collection("poolkit_test", name, count, "count");
    ADD_FAILURE() << "expected a network error with the server stopped";
  } catch (const Error& error) {
    EXPECT_TRUE(error.code() == ErrorCode::connect || error.code() == ErrorCode::timeout)
        << error.what();
    EXPECT_NE(std::string(error.what()).find("count on poolkit_test."), std::string::npos)
        << error.what();
  }
  EXPECT_LT(Clock::now() - started, 15s);
  server().start();
  // The broken connection was closed, not returned.
  EXPECT_EQ(client.pool_stats().closed_by(CloseReason::error), 1u);
  EXPECT_EQ(client.pool_stats().idle, 0u);

  // The next call gets a new connection and works again (the server may need a moment).
  bool worked = false;
  for (int attempt = 0; attempt < 50 && !worked; ++attempt) {
    try {
      client.with_collection("poolkit_test", name, count, "count");
      worked = true;
    } catch (const Error&) {
      std::this_thread::sleep_for(200ms);
    }
  }
  EXPECT_TRUE(worked);
}

}  // namespace
}  // namespace poolkit::test
