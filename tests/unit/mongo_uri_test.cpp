// MONGODB_URL reconciled with the MONGODB_* settings (src/mongo/uri.cpp), without a server:
// the settings decide every option they own, a URL option that disagrees is dropped with a
// warning, pool options never reach libmongoc, and the URL keeps everything else.

#include <gtest/gtest.h>

#include <string>

#include "mongo/mongo_detail.hpp"
#include "poolkit/error.hpp"
#include "poolkit/settings.hpp"
#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using namespace std::chrono_literals;
using testing::contains;

MongoSettings settings_with(const std::string& url) {
  MongoSettings settings = Settings::defaults().mongo;
  settings.url = parse_url(url);
  return settings;
}

std::string all(const std::vector<std::string>& warnings) {
  std::string text;
  for (const std::string& warning : warnings) text += warning + "\n";
  return text;
}

std::int32_t int_option(const mongo::detail::BuiltUri& built, const char* key) {
  return mongoc_uri_get_option_as_int32(built.uri.get(), key, -1);
}

TEST(MongoUri, TheSettingsDecideDriverOptionsAndADisagreeingUrlOptionIsWarnedAbout) {
  const auto built = mongo::detail::build_uri(
      settings_with("mongodb://127.0.0.1:27017/app?socketTimeoutMS=5000&connectTimeoutMS=10000"));
  EXPECT_EQ(int_option(built, MONGOC_URI_SOCKETTIMEOUTMS), 20000);
  EXPECT_EQ(int_option(built, MONGOC_URI_CONNECTTIMEOUTMS), 10000);
  EXPECT_EQ(int_option(built, MONGOC_URI_SERVERSELECTIONTIMEOUTMS), 3000);
  EXPECT_EQ(int_option(built, MONGOC_URI_HEARTBEATFREQUENCYMS), 10000);
  ASSERT_EQ(built.warnings.size(), 1u) << all(built.warnings);  // connectTimeoutMS agrees
  EXPECT_TRUE(contains(built.warnings[0], "socketTimeoutMS=5000")) << built.warnings[0];
  EXPECT_TRUE(contains(built.warnings[0], "MONGODB_SOCKET_TIMEOUT_MS (20000)"))
      << built.warnings[0];
}

TEST(MongoUri, PoolOptionsNeverReachTheDriverAndKeysMatchInAnyCase) {
  const auto built = mongo::detail::build_uri(
      settings_with("mongodb://127.0.0.1/app?MAXPOOLSIZE=7&minPoolSize=5&maxidletimems=1"));
  EXPECT_EQ(int_option(built, MONGOC_URI_MAXPOOLSIZE), -1);
  EXPECT_EQ(int_option(built, MONGOC_URI_MINPOOLSIZE), -1);
  EXPECT_EQ(int_option(built, MONGOC_URI_MAXIDLETIMEMS), -1);
  const std::string warnings = all(built.warnings);
  EXPECT_TRUE(contains(warnings, "MONGODB_MAX_POOL_SIZE")) << warnings;
  EXPECT_TRUE(contains(warnings, "MONGODB_MAX_IDLE_TIME_MS")) << warnings;
  // minPoolSize=5 is MONGODB_MIN_POOL_SIZE's own default: nothing to warn about.
  EXPECT_FALSE(contains(warnings, "MONGODB_MIN_POOL_SIZE")) << warnings;
}

TEST(MongoUri, OtherUrlOptionsAndTheDatabaseAreKept) {
  const auto built = mongo::detail::build_uri(
      settings_with("mongodb://127.0.0.1/reports?replicaSet=rs0&retryWrites=false"));
  EXPECT_TRUE(built.warnings.empty()) << all(built.warnings);
  EXPECT_STREQ(mongoc_uri_get_replica_set(built.uri.get()), "rs0");
  EXPECT_STREQ(mongoc_uri_get_database(built.uri.get()), "reports");
  EXPECT_FALSE(mongoc_uri_get_option_as_bool(built.uri.get(), MONGOC_URI_RETRYWRITES, true));
  // Unless the URL says otherwise: retryable reads on, and no single-scan server selection.
  EXPECT_TRUE(mongoc_uri_get_option_as_bool(built.uri.get(), MONGOC_URI_RETRYREADS, false));
  EXPECT_FALSE(
      mongoc_uri_get_option_as_bool(built.uri.get(), MONGOC_URI_SERVERSELECTIONTRYONCE, true));
}

TEST(MongoUri, AppnameAndCompressorsFromSettingsWinOverTheUrl) {
  MongoSettings settings = settings_with("mongodb://127.0.0.1/app?appname=fromurl");
  settings.appname = "codebot";
  settings.compressors = {"zlib"};
  const auto built = mongo::detail::build_uri(settings);
  EXPECT_STREQ(mongoc_uri_get_appname(built.uri.get()), "codebot");
  EXPECT_TRUE(bson_has_field(mongoc_uri_get_compressors(built.uri.get()), "zlib"));
  const std::string warnings = all(built.warnings);
  EXPECT_TRUE(contains(warnings, "appname=fromurl")) << warnings;
  EXPECT_TRUE(contains(warnings, "MONGODB_APPNAME")) << warnings;
}

TEST(MongoUri, WarningsNeverHoldThePassword) {
  const std::string secret = testing::test_secret();
  const auto built = mongo::detail::build_uri(
      settings_with("mongodb://app:" + secret + "@127.0.0.1/app?socketTimeoutMS=1"));
  ASSERT_FALSE(built.warnings.empty());
  testing::expect_no_secret(all(built.warnings), "the warnings");
}

TEST(MongoUri, AnUnsetUrlAndWaitQueueMultipleAreConfigErrors) {
  MongoSettings unset = Settings::defaults().mongo;
  unset.url.reset();
  EXPECT_THROW(mongo::detail::build_uri(unset), ConfigError);
  try {
    mongo::detail::build_uri(settings_with("mongodb://127.0.0.1/app?waitQueueMultiple=2"));
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_TRUE(contains(error.what(), "waitQueueMultiple")) << error.what();
  }
}

}  // namespace
}  // namespace poolkit
