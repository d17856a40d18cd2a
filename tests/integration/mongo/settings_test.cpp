// Every MONGODB_* setting reaches libmongoc (read back from the URI each pooled client was
// created with), or is enforced by the pool; URL options that duplicate a variable lose to it.

#include <cstdlib>

#include "mongo_test_support.hpp"
#include "poolkit/error.hpp"

namespace poolkit::test {
namespace {

using mongo::Client;
using namespace std::chrono_literals;

class MongoSettingsTest : public MongoTest {};

std::string with_query(const std::string& url, const std::string& query) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

TEST_F(MongoSettingsTest, EveryDriverSettingReachesLibmongoc) {
  MongoSettings s = settings();
  s.connect_timeout = 1234ms;
  s.socket_timeout = 2345ms;
  s.server_selection_timeout = 3456ms;
  s.heartbeat_frequency = 4567ms;
  s.compressors = {"zlib"};
  Client client(s);
  auto lease = client.checkout();
  const mongoc_uri_t* uri = mongoc_client_get_uri(*lease);

  EXPECT_EQ(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 0), 1234);
  EXPECT_EQ(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 0), 2345);
  EXPECT_EQ(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0), 3456);
  EXPECT_EQ(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_HEARTBEATFREQUENCYMS, 0), 4567);
  ASSERT_NE(mongoc_uri_get_appname(uri), nullptr);
  EXPECT_EQ(std::string(mongoc_uri_get_appname(uri)), appname());
  EXPECT_TRUE(bson_has_field(mongoc_uri_get_compressors(uri), "zlib"));
  EXPECT_TRUE(mongoc_uri_get_option_as_bool(uri, MONGOC_URI_RETRYREADS, false));
  EXPECT_TRUE(mongoc_uri_get_option_as_bool(uri, MONGOC_URI_RETRYWRITES, false));
  // Wait up to serverSelectionTimeoutMS for a server instead of failing after one scan.
  EXPECT_FALSE(mongoc_uri_get_option_as_bool(uri, MONGOC_URI_SERVERSELECTIONTRYONCE, true));
  EXPECT_TRUE(client.warnings().empty());
}

TEST_F(MongoSettingsTest, PoolSettingsAreEnforcedByThePoolAndNeverPassedToLibmongoc) {
  MongoSettings s = settings();
  s.max_pool_size = 7;
  s.min_pool_size = 2;
  s.wait_queue_timeout = 1500ms;
  s.max_idle_time = 45000ms;
  Client client(s);
  const PoolStats stats = client.stats().pool;
  EXPECT_EQ(stats.max_size, 7u);
  EXPECT_EQ(stats.min_size, 2u);

  auto lease = client.checkout();
  const mongoc_uri_t* uri = mongoc_client_get_uri(*lease);
  // libmongoc would read minPoolSize as a deprecated idle cap; none of these reach it.
  for (const char* key : {MONGOC_URI_MAXPOOLSIZE, MONGOC_URI_MINPOOLSIZE,
                          MONGOC_URI_WAITQUEUETIMEOUTMS, MONGOC_URI_MAXIDLETIMEMS}) {
    EXPECT_FALSE(mongoc_uri_has_option(uri, key)) << key;
  }
}

TEST_F(MongoSettingsTest, AVariableWinsOverTheSameUrlOptionWithAWarning) {
  MongoSettings s = settings();
  s.url = parse_url(with_query(
      server().url(), "connectTimeoutMS=999&maxPoolSize=3&appname=fromurl&socketTimeoutMS=20000"));
  s.max_pool_size = 6;
  std::vector<std::string> reported;
  mongo::ClientOptions options;
  options.on_warning = [&](const std::string& warning) { reported.push_back(warning); };
  Client client(s, options);

  // socketTimeoutMS=20000 equals MONGODB_SOCKET_TIMEOUT_MS: no warning for it.
  ASSERT_EQ(client.warnings().size(), 3u);
  EXPECT_EQ(reported, client.warnings());
  auto mentions = [&](std::string_view a, std::string_view b) {
    for (const std::string& w : client.warnings()) {
      if (w.find(a) != std::string::npos && w.find(b) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(mentions("connectTimeoutMS=999", "MONGODB_CONNECT_TIMEOUT_MS (10000)"));
  EXPECT_TRUE(mentions("maxPoolSize=3", "MONGODB_MAX_POOL_SIZE (6)"));
  EXPECT_TRUE(mentions("appname=fromurl", "MONGODB_APPNAME"));

  EXPECT_EQ(client.stats().pool.max_size, 6u);
  auto lease = client.checkout();
  const mongoc_uri_t* uri = mongoc_client_get_uri(*lease);
  EXPECT_EQ(mongoc_uri_get_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 0), 10000);
  EXPECT_EQ(std::string(mongoc_uri_get_appname(uri)), appname());
}

TEST_F(MongoSettingsTest, UrlOptionsWithoutAVariableAreKept) {
  MongoSettings s = settings();
  s.appname.reset();
  s.url = parse_url(with_query(server().url(), "retryWrites=false&appname=fromurl"));
  Client client(s);
  auto lease = client.checkout();
  const mongoc_uri_t* uri = mongoc_client_get_uri(*lease);
  EXPECT_FALSE(mongoc_uri_get_option_as_bool(uri, MONGOC_URI_RETRYWRITES, true));
  EXPECT_TRUE(mongoc_uri_get_option_as_bool(uri, MONGOC_URI_RETRYREADS, false));
  EXPECT_EQ(std::string(mongoc_uri_get_appname(uri)), "fromurl");
  EXPECT_TRUE(client.warnings().empty());
}

TEST_F(MongoSettingsTest, WaitQueueMultipleInTheUrlIsAClearError) {
  MongoSettings s = settings();
  s.url = parse_url(with_query(server().url(), "waitQueueMultiple=4"));
  try {
    Client client(s);
    FAIL() << "waitQueueMultiple must be refused";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("waitQueueMultiple does not exist"), std::string::npos)
        << error.what();
  }
}

TEST_F(MongoSettingsTest, AnUnsetUrlIsAConfigErrorNamingTheVariable) {
  MongoSettings s = settings();
  s.url.reset();
  try {
    Client client(s);
    FAIL() << "an unset MONGODB_URL must be refused";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("MONGODB_URL is not set"), std::string::npos);
  }
}

TEST_F(MongoSettingsTest, MinAboveMaxIsAConfigErrorNamingBothVariables) {
  MongoSettings s = settings();
  s.min_pool_size = 9;
  s.max_pool_size = 3;
  try {
    Client client(s);
    FAIL() << "min above max must be refused";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    // The words of settings validation: min <= max is judged in one place.
    EXPECT_NE(message.find("MONGODB_MIN_POOL_SIZE=9 is larger than MONGODB_MAX_POOL_SIZE=3: the "
                           "minimum must not exceed the maximum"),
              std::string::npos)
        << message;
  }
}

TEST_F(MongoSettingsTest, AnUnreachableServerIsATypedConnectErrorWithoutThePassword) {
  const char* secret = std::getenv("POOLKIT_TEST_SECRET");
  ASSERT_NE(secret, nullptr);
  const int closed_port = free_loopback_port();  // nobody listens there
  MongoSettings s = settings();
  s.url = parse_url("mongodb://app:" + std::string(secret) +
                    "@127.0.0.1:" + std::to_string(closed_port) + "/appdb");
  s.min_pool_size = 0;
  s.server_selection_timeout = 300ms;
  s.connect_timeout = 300ms;
  Client client(s);
  const auto started = std::chrono::steady_clock::now();
  try {
    client.ping();
    FAIL() << "nothing listens there";
  } catch (const ConnectError& error) {
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    const std::string message = error.what();
    EXPECT_TRUE(message.find(secret) == std::string::npos);
    // No message printed here: it would show the password if the check above failed.
    EXPECT_NE(message.find("127.0.0.1:" + std::to_string(closed_port)), std::string::npos);
    EXPECT_TRUE(error.retryable());
  }
  EXPECT_TRUE(client.address().find(secret) == std::string::npos);
}

}  // namespace
}  // namespace poolkit::test
