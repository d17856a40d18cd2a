#include <gtest/gtest.h>

#include <poolkit/error.hpp>
#include <poolkit/settings.hpp>
#include <string>
#include <vector>

#include "core/settings_detail.hpp"
#include "poolkit/setting_names.hpp"
#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using namespace std::chrono_literals;
using testing::contains;
using testing::expect_no_secret;
using testing::scrubbed;
using testing::test_secret;

class SettingsLoad : public ::testing::Test {
 protected:
  // Loads from exactly these inputs: never the process environment or ./.env.
  LoadResult load(Environment environment = {}, std::optional<std::string> dotenv_text = {},
                  std::optional<std::string> profile = {}) const {
    LoadOptions options;
    options.discover_env_file = false;
    options.environment = std::move(environment);
    options.profile = std::move(profile);
    if (dotenv_text) options.env_file = directory_.write("test.env", *dotenv_text);
    return load_settings(options);
  }

  std::string env_file_path() const { return (directory_.path() / "test.env").string(); }

  testing::ScratchDirectory directory_;
};

const SettingEntry& entry(const LoadResult& result, std::string_view name) {
  const SettingEntry* found = result.find(name);
  if (!found) throw std::logic_error("no entry " + std::string(name));
  return *found;
}

const SettingProblem* problem_for(const std::vector<SettingProblem>& problems,
                                  std::string_view name) {
  for (const SettingProblem& problem : problems) {
    if (problem.name == name) return &problem;
  }
  return nullptr;
}

// Everything a user could see: displayed values, warnings and errors.
std::string everything_shown(const LoadResult& result) {
  std::string text;
  for (const SettingEntry& e : result.entries) text += e.display.value_or("") + "\n";
  for (const SettingProblem& p : result.warnings) text += p.name + " " + p.message + "\n";
  for (const SettingProblem& p : result.errors) text += p.name + " " + p.message + "\n";
  return text;
}

// How an error message starts: NAME="value", the value shortened as every message shows it.
std::string assignment(std::string_view name, std::string_view value) {
  return std::string(name) + "=" + quote_value(value);
}

std::string secret_url(std::string_view scheme, std::string_view rest) {
  return std::string(scheme) + "://app:" + test_secret() + "@" + std::string(rest);
}

// ----- sources and precedence -----------------------------------------------------------------

TEST_F(SettingsLoad, BuiltInDefaultsApplyWhenNothingIsSet) {
  const LoadResult result = load();
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(entry(result, "MONGODB_MAX_POOL_SIZE").source.to_string(), "default");
  EXPECT_EQ(entry(result, "MONGODB_MAX_POOL_SIZE").display, "100");
  EXPECT_FALSE(result.profile.has_value());
  EXPECT_FALSE(result.env_file.has_value());
}

TEST_F(SettingsLoad, VariableWithoutDefaultIsUnset) {
  const LoadResult result = load();
  const SettingEntry& url = entry(result, "MONGODB_URL");
  EXPECT_EQ(url.source.kind, SourceKind::unset);
  EXPECT_EQ(url.source.to_string(), "unset");
  EXPECT_FALSE(url.display.has_value());
  EXPECT_FALSE(result.settings->mongo.url.has_value());
}

TEST_F(SettingsLoad, EnvironmentWinsOverDotenvProfileAndDefault) {
  const LoadResult result = load({{"REDIS_MAX_CONNECTIONS", "150"}, {"POOLKIT_PROFILE", "dev"}},
                                 "REDIS_MAX_CONNECTIONS=120\n");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(entry(result, "REDIS_MAX_CONNECTIONS").source.to_string(), "env");
  EXPECT_EQ(result.settings->redis.max_connections, 150u);
}

TEST_F(SettingsLoad, DotenvWinsOverProfileAndRemembersFileAndLine) {
  const LoadResult result =
      load({{"POOLKIT_PROFILE", "dev"}}, "# comment\nREDIS_MAX_CONNECTIONS=120\n");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(entry(result, "REDIS_MAX_CONNECTIONS").source.kind, SourceKind::dotenv);
  EXPECT_EQ(entry(result, "REDIS_MAX_CONNECTIONS").source.to_string(), env_file_path() + ":2");
  EXPECT_EQ(result.settings->redis.max_connections, 120u);
  EXPECT_EQ(result.env_file, directory_.path() / "test.env");
}

TEST_F(SettingsLoad, ProfileWinsOverDefault) {
  const LoadResult result = load({{"POOLKIT_PROFILE", "dev"}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.profile, Profile::dev);
  EXPECT_EQ(entry(result, "AIOHTTP_POOL_LIMIT").source.to_string(), "profile:dev");
  EXPECT_EQ(result.settings->http_async.pool_limit, 20u);
  EXPECT_EQ(result.settings->mongo.min_pool_size, 2u);
  EXPECT_EQ(result.settings->http_async.timeout_total, 10s);
}

TEST_F(SettingsLoad, ProfileLeavesVariablesItDoesNotTuneAtTheirDefault) {
  const LoadResult result = load({{"POOLKIT_PROFILE", "staging"}});
  EXPECT_EQ(entry(result, "REDIS_CONNECT_TIMEOUT").source.to_string(), "default");
  EXPECT_EQ(entry(result, "MONGODB_MAX_POOL_SIZE").source.to_string(), "profile:staging");
  EXPECT_EQ(result.settings->mongo.max_pool_size, 75u);
}

TEST_F(SettingsLoad, ProfileMayComeFromTheDotenvFile) {
  const LoadResult result = load({}, "POOLKIT_PROFILE=staging\n");
  EXPECT_EQ(result.profile, Profile::staging);
  EXPECT_EQ(result.settings->profile, Profile::staging);
  EXPECT_EQ(entry(result, "REDIS_MAX_CONNECTIONS").source.to_string(), "profile:staging");
}

TEST_F(SettingsLoad, ProfileOptionWinsOverPoolkitProfileVariable) {
  const LoadResult result = load({{"POOLKIT_PROFILE", "dev"}}, {}, "production");
  EXPECT_EQ(result.profile, Profile::production);
  EXPECT_EQ(entry(result, "POOLKIT_PROFILE").source.to_string(), "option");
  EXPECT_EQ(result.settings->http_async.pool_limit, 100u);
}

TEST_F(SettingsLoad, TypedSettingsCarryEveryLayer) {
  const LoadResult result = load({{"MONGODB_URL", "mongodb://127.0.0.1:27017/app"},
                                  {"MONGODB_COMPRESSORS", "zstd, zlib"},
                                  {"MONGODB_APPNAME", "CodeBot"},
                                  {"REDIS_URL", "redis://127.0.0.1:6379/0"},
                                  {"REDIS_CLIENT_NAME", "web-1"},
                                  {"REQUESTS_RETRIES", "3"}});
  ASSERT_TRUE(result.ok());
  const Settings& settings = *result.settings;
  EXPECT_EQ(settings.mongo.url->hosts[0].port, 27017);
  EXPECT_EQ(settings.mongo.compressors, (std::vector<std::string>{"zstd", "zlib"}));
  EXPECT_EQ(settings.mongo.appname, "CodeBot");
  EXPECT_EQ(settings.redis.url->path, "/0");
  EXPECT_EQ(settings.redis.client_name, "web-1");
  EXPECT_EQ(settings.http_sync.retries, 3);
}

TEST_F(SettingsLoad, DefaultsMatchTheSpecification) {
  const Settings settings = Settings::defaults();
  EXPECT_EQ(settings.mongo.max_pool_size, 100u);
  EXPECT_EQ(settings.mongo.min_pool_size, 5u);
  EXPECT_EQ(settings.mongo.wait_queue_timeout, 5000ms);
  EXPECT_EQ(settings.mongo.max_idle_time, 30000ms);
  EXPECT_EQ(settings.mongo.server_selection_timeout, 3000ms);
  EXPECT_EQ(settings.mongo.socket_timeout, 20000ms);
  EXPECT_EQ(settings.mongo.connect_timeout, 10000ms);
  EXPECT_EQ(settings.mongo.heartbeat_frequency, 10000ms);
  EXPECT_TRUE(settings.mongo.compressors.empty());
  EXPECT_EQ(settings.redis.max_connections, 100u);
  EXPECT_EQ(settings.redis.connect_timeout, 2s);
  EXPECT_EQ(settings.redis.socket_timeout, 2s);
  EXPECT_EQ(settings.redis.health_check_interval, 30s);
  EXPECT_EQ(settings.redis.wait_timeout, 5s);
  EXPECT_EQ(settings.redis.retry_attempts, 3);
  EXPECT_FALSE(settings.redis.client_name.has_value());
  EXPECT_EQ(settings.http_async.pool_limit, 100u);
  EXPECT_EQ(settings.http_async.limit_per_host, 25u);
  EXPECT_EQ(settings.http_async.timeout_total, 15s);
  EXPECT_EQ(settings.http_async.dns_ttl, 300s);
  EXPECT_EQ(settings.http_async.keepalive_timeout, 15s);
  EXPECT_EQ(settings.http_async.resilience.max_attempts, 3);
  EXPECT_EQ(settings.http_async.resilience.backoff_base, 250ms);
  EXPECT_EQ(settings.http_async.resilience.backoff_max, 8s);
  EXPECT_EQ(settings.http_async.resilience.jitter, 500ms);
  EXPECT_EQ(settings.http_async.circuit_breaker.failure_threshold, 5);
  EXPECT_EQ(settings.http_async.circuit_breaker.recovery, 30s);
  EXPECT_EQ(settings.http_async.circuit_breaker.half_open_success, 1);
  EXPECT_EQ(settings.http_sync.pool_connections, 20u);
  EXPECT_EQ(settings.http_sync.pool_maxsize, 100u);
  EXPECT_EQ(settings.http_sync.timeout, 8s);
  EXPECT_EQ(settings.http_sync.retries, 2);
  EXPECT_EQ(settings.http_sync.retry_backoff, 200ms);
  EXPECT_EQ(settings.redis.max_reply_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(settings.http_async.max_response_bytes, 64u * 1024 * 1024);
  EXPECT_EQ(settings.http_sync.max_response_bytes, 64u * 1024 * 1024);
}

TEST_F(SettingsLoad, SizesAcceptDigitsAndBinaryUnits) {
  const LoadResult result =
      load({{"REDIS_MAX_REPLY_BYTES", "512KiB"}, {"HTTP_MAX_RESPONSE_BYTES", "1048576"}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.settings->redis.max_reply_bytes, 512u * 1024);
  EXPECT_EQ(result.settings->http_async.max_response_bytes, 1024u * 1024);
  EXPECT_EQ(result.settings->http_sync.max_response_bytes, 1024u * 1024);
  const LoadResult gib = load({{"REDIS_MAX_REPLY_BYTES", "2GiB"}});
  ASSERT_TRUE(gib.ok());
  EXPECT_EQ(gib.settings->redis.max_reply_bytes, 2048u * 1024 * 1024);
}

TEST_F(SettingsLoad, SecondsAcceptDecimalsExactlyToTheMillisecond) {
  const LoadResult result = load({{"REDIS_CONNECT_TIMEOUT", "2.5"},
                                  {"REDIS_SOCKET_TIMEOUT", "0.001"},
                                  {"HTTP_RESILIENCE_JITTER", "0.1"},
                                  {"REDIS_WAIT_TIMEOUT", "1.2500"}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.settings->redis.connect_timeout, 2500ms);
  EXPECT_EQ(result.settings->redis.socket_timeout, 1ms);
  EXPECT_EQ(result.settings->http_async.resilience.jitter, 100ms);
  EXPECT_EQ(result.settings->redis.wait_timeout, 1250ms);
}

TEST_F(SettingsLoad, ZeroIsAcceptedWhereItMeansNoLimit) {
  const LoadResult result = load({{"AIOHTTP_LIMIT_PER_HOST", "0"}, {"AIOHTTP_DNS_TTL", "0"}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.settings->http_async.limit_per_host, 0u);
  EXPECT_EQ(result.settings->http_async.dns_ttl, 0ms);
}

// ----- the table --------------------------------------------------------------------------------

TEST(SettingsTable, EveryDefaultLiesInsideItsRecommendedRange) {
  for (const SettingSpec& spec : setting_specs()) {
    if (!spec.default_value || !spec.recommended) continue;
    const double value = std::stod(std::string(*spec.default_value));
    EXPECT_GE(value, spec.recommended->min) << spec.name;
    EXPECT_LE(value, spec.recommended->max) << spec.name;
  }
}

TEST(SettingsTable, EveryDefaultAndProfileValueIsValid) {
  // Loading with each profile and nothing else must produce no error: the table's own values
  // go through the same strict parser as a user's.
  for (const char* profile : {"dev", "staging", "production"}) {
    LoadOptions options;
    options.discover_env_file = false;
    options.environment = Environment{{"POOLKIT_PROFILE", profile}};
    const LoadResult result = load_settings(options);
    EXPECT_TRUE(result.ok()) << profile << ": " << result.errors.front().message;
    EXPECT_TRUE(result.warnings.empty()) << profile << ": " << result.warnings.front().message;
  }
}

TEST(SettingsTable, EveryRowHasHelpAndOnlyUrlsAndPasswordsAreSecret) {
  for (const SettingSpec& spec : setting_specs()) {
    EXPECT_FALSE(spec.help.empty()) << spec.name;
    EXPECT_EQ(spec.secret, spec.kind == ValueKind::url || spec.name.ends_with("_PASSWORD"))
        << spec.name;
  }
}

TEST(SettingsTable, CoversEveryVariableOfTheSpecification) {
  for (const char* name : {"MONGODB_URL",
                           "MONGODB_MAX_POOL_SIZE",
                           "MONGODB_MIN_POOL_SIZE",
                           "MONGODB_WAIT_QUEUE_TIMEOUT_MS",
                           "MONGODB_MAX_IDLE_TIME_MS",
                           "MONGODB_SERVER_SELECTION_TIMEOUT_MS",
                           "MONGODB_SOCKET_TIMEOUT_MS",
                           "MONGODB_CONNECT_TIMEOUT_MS",
                           "MONGODB_HEARTBEAT_FREQUENCY_MS",
                           "MONGODB_APPNAME",
                           "MONGODB_COMPRESSORS",
                           "REDIS_URL",
                           "REDIS_MAX_CONNECTIONS",
                           "REDIS_CONNECT_TIMEOUT",
                           "REDIS_SOCKET_TIMEOUT",
                           "REDIS_HEALTH_CHECK_INTERVAL",
                           "REDIS_WAIT_TIMEOUT",
                           "REDIS_RETRY_ATTEMPTS",
                           "REDIS_CLIENT_NAME",
                           "REDIS_MAX_REPLY_BYTES",
                           "REDIS_MODE",
                           "REDIS_SENTINEL_MASTER",
                           "REDIS_SENTINEL_PASSWORD",
                           "REDIS_READ_FROM",
                           "REDIS_MULTIPLEX_CONNECTIONS",
                           "REDIS_MAX_PENDING",
                           "HTTP_MAX_RESPONSE_BYTES",
                           "AIOHTTP_POOL_LIMIT",
                           "AIOHTTP_LIMIT_PER_HOST",
                           "AIOHTTP_TIMEOUT_TOTAL",
                           "AIOHTTP_DNS_TTL",
                           "AIOHTTP_KEEPALIVE_TIMEOUT",
                           "HTTP_RESILIENCE_MAX_ATTEMPTS",
                           "HTTP_RESILIENCE_BACKOFF_BASE",
                           "HTTP_RESILIENCE_BACKOFF_MAX",
                           "HTTP_RESILIENCE_JITTER",
                           "CIRCUIT_BREAKER_FAILURE_THRESHOLD",
                           "CIRCUIT_BREAKER_RECOVERY_SECONDS",
                           "CIRCUIT_BREAKER_HALF_OPEN_SUCCESS",
                           "REQUESTS_POOL_CONNECTIONS",
                           "REQUESTS_POOL_MAXSIZE",
                           "REQUESTS_TIMEOUT",
                           "REQUESTS_RETRIES",
                           "REQUESTS_RETRY_BACKOFF",
                           "POOLKIT_PROFILE"}) {
    EXPECT_NE(find_setting_spec(name), nullptr) << name;
  }
}

// ----- strict parsing ---------------------------------------------------------------------------

struct RejectedValue {
  const char* label;
  const char* name;
  const char* value;
  const char* expected;         // part of the error message
  const char* shown = nullptr;  // the value as the message shows it, when masked
};

void PrintTo(const RejectedValue& rejected, std::ostream* out) {
  *out << rejected.label;
}

class SettingsRejection : public ::testing::TestWithParam<RejectedValue> {};

TEST_P(SettingsRejection, IsAnErrorNamingVariableValueAndWhatIsExpected) {
  const RejectedValue& param = GetParam();
  LoadOptions options;
  options.discover_env_file = false;
  options.environment = Environment{{param.name, param.value}};
  const LoadResult result = load_settings(options);

  EXPECT_FALSE(result.settings.has_value()) << "a bad value must not fall back to a default";
  const SettingProblem* error = problem_for(result.errors, param.name);
  ASSERT_NE(error, nullptr) << "no error for " << param.name;
  const char* shown = param.shown ? param.shown : param.value;
  EXPECT_TRUE(error->message.starts_with(assignment(param.name, shown))) << error->message;
  EXPECT_TRUE(contains(error->message, param.expected)) << error->message;
  EXPECT_TRUE(contains(error->message, "(set in the environment)")) << error->message;
}

INSTANTIATE_TEST_SUITE_P(
    Settings, SettingsRejection,
    ::testing::Values(
        RejectedValue{"CountWithTrailingLetter", "REDIS_MAX_CONNECTIONS", "10x",
                      "expected a whole number from 1 to 100000"},
        RejectedValue{"CountWithExponent", "REDIS_MAX_CONNECTIONS", "1e3", "digits only"},
        RejectedValue{"NegativeSize", "MONGODB_MAX_POOL_SIZE", "-5", "from 1 to 100000"},
        RejectedValue{"SizeWithPlusSign", "MONGODB_MAX_POOL_SIZE", "+5", "digits only"},
        RejectedValue{"SizeWithBlank", "MONGODB_MAX_POOL_SIZE", " 50", "digits only"},
        RejectedValue{"SizeZero", "MONGODB_MAX_POOL_SIZE", "0", "from 1 to 100000"},
        RejectedValue{"SizeAboveHardLimit", "REDIS_MAX_CONNECTIONS", "100001", "to 100000"},
        RejectedValue{"NotANumber", "MONGODB_MIN_POOL_SIZE", "abc", "from 0 to 100000"},
        RejectedValue{"EmptyCount", "REDIS_MAX_CONNECTIONS", "", "it is empty"},
        RejectedValue{"Overflow", "AIOHTTP_POOL_LIMIT", "99999999999999999999999", "far too large"},
        RejectedValue{"HexMilliseconds", "MONGODB_WAIT_QUEUE_TIMEOUT_MS", "0x10",
                      "a whole number of milliseconds from 1 to 86400000"},
        RejectedValue{"DecimalMilliseconds", "MONGODB_WAIT_QUEUE_TIMEOUT_MS", "2.5",
                      "whole number of milliseconds"},
        RejectedValue{"HeartbeatBelowDriverMinimum", "MONGODB_HEARTBEAT_FREQUENCY_MS", "100",
                      "from 500 to"},
        RejectedValue{"InfiniteSeconds", "REDIS_CONNECT_TIMEOUT", "inf",
                      "no sign, exponent, inf or nan"},
        RejectedValue{"NanSeconds", "REDIS_SOCKET_TIMEOUT", "nan", "a number of seconds"},
        RejectedValue{"NegativeSeconds", "REQUESTS_TIMEOUT", "-1", "greater than 0"},
        RejectedValue{"SecondsWithPlusSign", "REQUESTS_TIMEOUT", "+2", "no sign"},
        RejectedValue{"SecondsWithExponent", "AIOHTTP_TIMEOUT_TOTAL", "1e1", "exponent"},
        RejectedValue{"HexSeconds", "AIOHTTP_TIMEOUT_TOTAL", "0x1p3", "a number of seconds"},
        RejectedValue{"ZeroTimeout", "REDIS_WAIT_TIMEOUT", "0", "greater than 0 and at most 3600"},
        RejectedValue{"SecondsWithoutLeadingDigit", "REDIS_WAIT_TIMEOUT", ".5", "like 2 or 2.5"},
        RejectedValue{"SecondsWithTrailingPoint", "REDIS_WAIT_TIMEOUT", "2.", "like 2 or 2.5"},
        RejectedValue{"SecondsBeyondMilliseconds", "REDIS_WAIT_TIMEOUT", "2.0005",
                      "more than 3 decimals"},
        RejectedValue{"SecondsAboveHardLimit", "REQUESTS_TIMEOUT", "3601", "at most 3600"},
        RejectedValue{"SecondsWithUnit", "REQUESTS_TIMEOUT", "8s", "a number of seconds"},
        RejectedValue{"UnknownProfile", "POOLKIT_PROFILE", "prod",
                      "one of dev, staging or production"},
        RejectedValue{"CapitalisedProfile", "POOLKIT_PROFILE", "Production", "lower case"},
        RejectedValue{"UnknownCompressor", "MONGODB_COMPRESSORS", "zstd,lz4", "\"lz4\" is not one"},
        RejectedValue{"EmptyCompressorEntry", "MONGODB_COMPRESSORS", "zstd,,zlib",
                      "an entry is empty"},
        RejectedValue{"RepeatedCompressor", "MONGODB_COMPRESSORS", "zlib,zlib", "listed twice"},
        RejectedValue{"AppNameTooLong", "MONGODB_APPNAME",
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                      "at most 128 bytes"},
        RejectedValue{"EmptyAppName", "MONGODB_APPNAME", "", "it is empty"},
        RejectedValue{"AppNameNotUtf8", "MONGODB_APPNAME", "caf\xE9", "it is not valid UTF-8"},
        RejectedValue{"AppNameWithSurrogate", "MONGODB_APPNAME", "a\xED\xA0\x80",
                      "it is not valid UTF-8"},
        RejectedValue{"ClientNameWithSpace", "REDIS_CLIENT_NAME", "my app", "without spaces"},
        RejectedValue{"MongoUrlWithWrongScheme", "MONGODB_URL", "redis://127.0.0.1:6379/0",
                      "a URL starting with mongodb:// or mongodb+srv://"},
        RejectedValue{"MongoUrlWithBadPort", "MONGODB_URL", "mongodb://127.0.0.1:99999/app",
                      "port must be a whole number from 1 to 65535"},
        RejectedValue{"MongoUrlWithEmptyHost", "MONGODB_URL", "mongodb:///app", "no host"},
        RejectedValue{"MongoUrlWithWaitQueueMultiple", "MONGODB_URL",
                      "mongodb://127.0.0.1/app?waitQueueMultiple=5",
                      "waitQueueMultiple does not exist"},
        RejectedValue{"MongoUrlWithWaitQueueMultipleInAnyCase", "MONGODB_URL",
                      "mongodb://127.0.0.1/app?w=1&WAITQUEUEMULTIPLE=5",
                      "waitQueueMultiple does not exist"},
        RejectedValue{"RedisUrlWithHttpScheme", "REDIS_URL", "http://127.0.0.1:6379",
                      "a URL starting with redis://, rediss:// or unix://"},
        RejectedValue{"RedisUrlWithNonNumericDatabase", "REDIS_URL", "redis://127.0.0.1/cache",
                      "the database must be a whole number"},
        RejectedValue{"RedisUrlWithNegativeDatabaseOption", "REDIS_URL",
                      "redis://127.0.0.1/0?db=-1", "the database must be a whole number"},
        RejectedValue{"RedisUrlWithDatabaseBeyondInt", "REDIS_URL", "redis://127.0.0.1/2147483648",
                      "the database must be a whole number"},
        RejectedValue{"UnixSocketWithNonNumericDatabase", "REDIS_URL",
                      "unix:///run/redis.sock?db=one", "the database must be a whole number"},
        RejectedValue{"RedissWithAMissingCaFile", "REDIS_URL",
                      "rediss://127.0.0.1:6380/0?ssl_ca_certs=/nonexistent/ca.pem",
                      "its option ssl_ca_certs (/nonexistent/ca.pem)"},
        RejectedValue{"RedissWithABadCertReqs", "REDIS_URL",
                      "rediss://127.0.0.1:6380/0?ssl_cert_reqs=maybe",
                      "its option ssl_cert_reqs is \"maybe\"; expected required, optional or none"},
        RejectedValue{"RedissWithABadCheckHostname", "REDIS_URL",
                      "rediss://127.0.0.1:6380/0?ssl_check_hostname=perhaps",
                      "its option ssl_check_hostname is \"perhaps\"; expected true or false"},
        RejectedValue{"RedissWithAnUnknownSslOption", "REDIS_URL",
                      "rediss://127.0.0.1:6380/0?ssl_ca_path=/etc",
                      "which poolkit does not know; the TLS options are ssl_ca_certs"},
        RejectedValue{"TlsOptionOnAPlainRedisUrl", "REDIS_URL",
                      "redis://127.0.0.1:6379/0?ssl_cert_reqs=none",
                      "the TLS option ssl_cert_reqs but the scheme redis://; use rediss://"},
        RejectedValue{
            "UnixSocketPathOverTheSystemLimit", "REDIS_URL",
            "unix:///run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/redis.sock",
            "the socket path is 121 bytes long, over the system's limit of 107 bytes"},
        RejectedValue{"MongoUrlOptionWithBadValue", "MONGODB_URL",
                      "mongodb://127.0.0.1/app?maxpoolsize=abc",
                      "libmongoc refuses it: Unsupported value for \"maxpoolsize\""},
        RejectedValue{"MongoUrlBoolOptionWithBadValue", "MONGODB_URL",
                      "mongodb://127.0.0.1/app?retryWrites=maybe", "libmongoc refuses it"},
        RejectedValue{"EmptyUrl", "REDIS_URL", "", "it is empty"},
        RejectedValue{"SizeWithDecimalUnit", "REDIS_MAX_REPLY_BYTES", "64MB",
                      "with a KiB, MiB or GiB suffix"},
        RejectedValue{"SizeBelowOneKiB", "REDIS_MAX_REPLY_BYTES", "100", "from 1024 to"},
        RejectedValue{"SizeAboveFourGiB", "HTTP_MAX_RESPONSE_BYTES", "5GiB", "to 4294967296"},
        RejectedValue{"SizeUnitWithoutNumber", "HTTP_MAX_RESPONSE_BYTES", "MiB",
                      "as digits or with"},
        RejectedValue{"SizeOverflow", "HTTP_MAX_RESPONSE_BYTES", "99999999999999GiB",
                      "far too large"}),
    [](const ::testing::TestParamInfo<RejectedValue>& param_info) {
      return param_info.param.label;
    });

// ----- checks across variables ------------------------------------------------------------------

TEST_F(SettingsLoad, MinPoolSizeAboveMaxPoolSizeIsAnErrorNamingBoth) {
  const LoadResult result =
      load({{"MONGODB_MIN_POOL_SIZE", "50"}, {"MONGODB_MAX_POOL_SIZE", "20"}});
  EXPECT_FALSE(result.ok());
  const SettingProblem* error = problem_for(result.errors, "MONGODB_MIN_POOL_SIZE");
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->message,
            "MONGODB_MIN_POOL_SIZE=50 is larger than MONGODB_MAX_POOL_SIZE=20: "
            "the minimum must not exceed the maximum");
}

TEST_F(SettingsLoad, MinPoolSizeEqualToMaxIsFine) {
  const LoadResult result =
      load({{"MONGODB_MIN_POOL_SIZE", "50"}, {"MONGODB_MAX_POOL_SIZE", "50"}});
  EXPECT_TRUE(result.ok());
}

TEST_F(SettingsLoad, ProfileMaximumBelowExplicitMinimumIsAnError) {
  const LoadResult result = load({{"POOLKIT_PROFILE", "dev"}, {"MONGODB_MIN_POOL_SIZE", "30"}});
  EXPECT_NE(problem_for(result.errors, "MONGODB_MIN_POOL_SIZE"), nullptr);
}

TEST_F(SettingsLoad, BackoffBaseAboveBackoffMaxIsAnError) {
  const LoadResult result =
      load({{"HTTP_RESILIENCE_BACKOFF_BASE", "10"}, {"HTTP_RESILIENCE_BACKOFF_MAX", "8.0"}});
  const SettingProblem* error = problem_for(result.errors, "HTTP_RESILIENCE_BACKOFF_BASE");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "HTTP_RESILIENCE_BACKOFF_MAX=8.0")) << error->message;
}

TEST_F(SettingsLoad, PerHostLimitAbovePoolLimitIsOnlyAWarning) {
  const LoadResult result = load({{"AIOHTTP_LIMIT_PER_HOST", "50"}, {"AIOHTTP_POOL_LIMIT", "40"}});
  EXPECT_TRUE(result.ok());
  const SettingProblem* warning = problem_for(result.warnings, "AIOHTTP_LIMIT_PER_HOST");
  ASSERT_NE(warning, nullptr);
  EXPECT_TRUE(contains(warning->message, "can never be reached")) << warning->message;
}

TEST_F(SettingsLoad, EveryErrorIsReportedNotJustTheFirst) {
  const LoadResult result = load(
      {{"REDIS_MAX_CONNECTIONS", "x"}, {"MONGODB_MAX_POOL_SIZE", "y"}, {"REQUESTS_TIMEOUT", "z"}});
  EXPECT_EQ(result.errors.size(), 3u);
}

// ----- recommended ranges -----------------------------------------------------------------------

TEST_F(SettingsLoad, ValueOutsideRecommendedRangeIsAcceptedWithAWarning) {
  const LoadResult result = load({{"MONGODB_MAX_POOL_SIZE", "500"}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result.settings->mongo.max_pool_size, 500u);
  const SettingProblem* warning = problem_for(result.warnings, "MONGODB_MAX_POOL_SIZE");
  ASSERT_NE(warning, nullptr);
  EXPECT_EQ(warning->message,
            "MONGODB_MAX_POOL_SIZE=500 is outside the recommended range 50–200 "
            "(set in the environment)");
}

TEST_F(SettingsLoad, SecondsOutsideRecommendedRangeAreWarned) {
  const LoadResult result = load({{"REDIS_SOCKET_TIMEOUT", "0.5"}});
  ASSERT_TRUE(result.ok());
  EXPECT_NE(problem_for(result.warnings, "REDIS_SOCKET_TIMEOUT"), nullptr);
}

TEST_F(SettingsLoad, ValuesWithinRecommendedRangeAreNotWarned) {
  const LoadResult result =
      load({{"MONGODB_MAX_POOL_SIZE", "200"}, {"REDIS_CONNECT_TIMEOUT", "1"}});
  EXPECT_TRUE(result.warnings.empty());
}

TEST_F(SettingsLoad, ActiveProfileValueIsNotWarnedEvenOutsideTheRecommendedRange) {
  // dev deliberately runs pools of 20, below the production-minded 50–200.
  const LoadResult result = load({{"POOLKIT_PROFILE", "dev"}, {"MONGODB_MAX_POOL_SIZE", "20"}});
  EXPECT_TRUE(result.warnings.empty());
}

TEST_F(SettingsLoad, SameSmallValueWithoutThatProfileIsWarned) {
  const LoadResult result = load({{"MONGODB_MAX_POOL_SIZE", "20"}});
  EXPECT_NE(problem_for(result.warnings, "MONGODB_MAX_POOL_SIZE"), nullptr);
}

// ----- names that are not in the table ----------------------------------------------------------

TEST_F(SettingsLoad, WaitQueueMultipleVariableIsAnError) {
  const LoadResult result = load({{"MONGODB_WAIT_QUEUE_MULTIPLE", "2"}});
  EXPECT_FALSE(result.ok());
  const SettingProblem* error = problem_for(result.errors, "MONGODB_WAIT_QUEUE_MULTIPLE");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "waitQueueMultiple does not exist")) << error->message;
  EXPECT_TRUE(contains(error->message, "MONGODB_WAIT_QUEUE_TIMEOUT_MS")) << error->message;
}

TEST_F(SettingsLoad, WaitQueueMultipleInDotenvFileInAnySpellingIsAnError) {
  const LoadResult result = load({}, "mongo_waitQueueMultiple=2\n");
  const SettingProblem* error = problem_for(result.errors, "mongo_waitQueueMultiple");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "(set in " + env_file_path() + ":1)")) << error->message;
}

TEST_F(SettingsLoad, LikelyTypoIsAWarningWithASuggestion) {
  const LoadResult result = load({{"MONGODB_MAX_POOLSIZE", "30"}});
  EXPECT_TRUE(result.ok());
  const SettingProblem* warning = problem_for(result.warnings, "MONGODB_MAX_POOLSIZE");
  ASSERT_NE(warning, nullptr);
  EXPECT_TRUE(contains(warning->message, "did you mean MONGODB_MAX_POOL_SIZE?"))
      << warning->message;
  EXPECT_FALSE(contains(warning->message, "30")) << "the value of an unknown variable is not shown";
}

TEST_F(SettingsLoad, KnownAliasIsAWarningNamingTheRealVariable) {
  const std::vector<std::pair<std::string, std::string>> aliases{
      {"MONGO_URL", "MONGODB_URL"},
      {"MONGO_URI", "MONGODB_URL"},
      {"MONGODB_URI", "MONGODB_URL"},
      {"mongodb_uri", "MONGODB_URL"},
      {"REDIS_URI", "REDIS_URL"},
      {"REDIS_HOST", "REDIS_URL"},
      {"REQUEST_TIMEOUT", "REQUESTS_TIMEOUT"},
      {"AIOHTTP_TIMEOUT", "AIOHTTP_TIMEOUT_TOTAL"},
      {"REDIS_TIMEOUT", "REDIS_SOCKET_TIMEOUT"},
      {"REDIS_POOL_SIZE", "REDIS_MAX_CONNECTIONS"},
      {"MONGODB_POOL_SIZE", "MONGODB_MAX_POOL_SIZE"},
  };
  for (const auto& [alias, meant] : aliases) {
    const LoadResult result = load({{alias, "1"}});
    EXPECT_TRUE(result.ok()) << alias;
    const SettingProblem* warning = problem_for(result.warnings, alias);
    ASSERT_NE(warning, nullptr) << alias;
    EXPECT_TRUE(contains(warning->message, "did you mean " + meant)) << warning->message;
    EXPECT_TRUE(contains(warning->message, "(set in the environment)")) << warning->message;
  }
}

TEST_F(SettingsLoad, HostVariableNextToTheUrlIsNotWarnedAbout) {
  // REDIS_HOST is common for other software; once REDIS_URL is set there is nothing to fix.
  const LoadResult result = load({{"REDIS_HOST", "cache"}, {"REDIS_URL", "redis://cache/0"}});
  EXPECT_EQ(problem_for(result.warnings, "REDIS_HOST"), nullptr);
}

TEST_F(SettingsLoad, ManyWarningsAreCountedNotListedOneByOne) {
  Environment environment;
  for (char a = 'A'; a <= 'Z'; ++a) {
    for (char b = 'A'; b <= 'D'; ++b) environment.emplace(std::string("REDIS_UR") + a + b, "1");
  }
  const LoadResult result = load(environment);
  ASSERT_EQ(result.warnings.size(), 51u);
  EXPECT_TRUE(contains(result.warnings.back().message, "and 54 more warnings"))
      << result.warnings.back().message;
}

TEST_F(SettingsLoad, LongNameIsShownShortened) {
  const std::string name = "WAIT_QUEUE_MULTIPLE_" + std::string(100000, 'X');
  const LoadResult result = load({{name, "1"}});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_LT(result.errors[0].message.size(), 400u);
  EXPECT_LT(result.errors[0].name.size(), 100u);
}

// ----- long values ------------------------------------------------------------------------------

TEST(ShownValue, ShortValueIsShownWhole) {
  EXPECT_EQ(shorten_value("redis://h/0"), "redis://h/0");
  EXPECT_EQ(quote_value("10x"), "\"10x\"");
  EXPECT_EQ(quote_value("a\nb"), "\"a\\nb\"");
}

TEST(ShownValue, LongValueIsItsStartAndItsLength) {
  const std::string value(1'000'000, 'x');
  EXPECT_EQ(shorten_value(value), std::string(kShownValueBytes, 'x') + "… (1000000 bytes)");
  EXPECT_EQ(quote_value(value), "\"" + std::string(kShownValueBytes, 'x') + "\"… (1000000 bytes)");
}

TEST(ShownValue, NeverCutsAUtf8Character) {
  const std::string value = std::string(kShownValueBytes - 1, 'x') + "é" + std::string(50, 'y');
  EXPECT_EQ(shorten_value(value), std::string(kShownValueBytes - 1, 'x') + "… (" +
                                      std::to_string(value.size()) + " bytes)");
}

TEST_F(SettingsLoad, HugeValueIsQuotedShortenedInItsError) {
  const std::string value(1'000'000, '7');
  for (const char* name : {"REDIS_MAX_CONNECTIONS", "MONGODB_APPNAME", "POOLKIT_PROFILE",
                           "MONGODB_COMPRESSORS", "REDIS_URL", "POOLKIT_METRICS_ADDR"}) {
    const LoadResult result = load({{name, value}});
    const SettingProblem* error = problem_for(result.errors, name);
    ASSERT_NE(error, nullptr) << name;
    EXPECT_LT(error->message.size(), 600u) << name << ": " << error->message.substr(0, 600);
    if (std::string_view(name) == "REDIS_URL") continue;  // a secret: shown masked whole
    EXPECT_TRUE(contains(error->message, "(1000000 bytes)")) << error->message.substr(0, 600);
  }
}

TEST_F(SettingsLoad, HugeListEntryIsQuotedShortened) {
  const LoadResult result = load({{"MONGODB_COMPRESSORS", "zlib," + std::string(100000, 'z')}});
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_LT(result.errors[0].message.size(), 600u);
}

TEST_F(SettingsLoad, LowerCaseNameIsAWarningNotASetting) {
  const LoadResult result = load({}, "redis_url=redis://127.0.0.1/0\n");
  EXPECT_NE(problem_for(result.warnings, "redis_url"), nullptr);
  EXPECT_FALSE(entry(result, "REDIS_URL").display.has_value());
}

TEST_F(SettingsLoad, UnrelatedVariablesAreIgnored) {
  const LoadResult result = load(
      {{"HOME", "/root"}, {"PATH", "/bin"}, {"REDIS_PASSWORD", "x"}, {"POOLKIT_TEST_SECRET", "x"}});
  EXPECT_TRUE(result.ok());
  EXPECT_TRUE(result.warnings.empty());
}

// ----- the dotenv file --------------------------------------------------------------------------

TEST_F(SettingsLoad, MalformedDotenvLineIsAnErrorWithFileAndLine) {
  const LoadResult result = load({}, "REDIS_MAX_CONNECTIONS=50\nnot a setting\n");
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_TRUE(contains(result.errors[0].message, env_file_path() + ":2:"))
      << result.errors[0].message;
}

TEST_F(SettingsLoad, BadDotenvValueNamesTheFileAndLine) {
  const LoadResult result = load({}, "\nREDIS_MAX_CONNECTIONS=10x\n");
  const SettingProblem* error = problem_for(result.errors, "REDIS_MAX_CONNECTIONS");
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->message,
            "REDIS_MAX_CONNECTIONS=\"10x\": expected a whole number from 1 to "
            "100000 (digits only) (set in " +
                env_file_path() + ":2)");
}

TEST_F(SettingsLoad, MissingExplicitEnvFileIsAnError) {
  LoadOptions options;
  options.env_file = directory_.path() / "missing.env";
  options.environment = Environment{};
  const LoadResult result = load_settings(options);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(contains(result.errors[0].message, "missing.env")) << result.errors[0].message;
}

TEST_F(SettingsLoad, VariableSetTwiceInDotenvFileIsAWarningAndTheLastCounts) {
  const LoadResult result = load({}, "REDIS_MAX_CONNECTIONS=60\nREDIS_MAX_CONNECTIONS=70\n");
  EXPECT_EQ(result.settings->redis.max_connections, 70u);
  const SettingProblem* warning = problem_for(result.warnings, "REDIS_MAX_CONNECTIONS");
  ASSERT_NE(warning, nullptr);
  EXPECT_TRUE(contains(warning->message, "lines 1, 2")) << warning->message;
}

// ----- from_environment
// ---------------------------------------------------------------------------

TEST_F(SettingsLoad, FromEnvironmentThrowsConfigErrorListingEveryError) {
  LoadOptions options;
  options.discover_env_file = false;
  options.environment = Environment{{"REDIS_MAX_CONNECTIONS", "x"}, {"REQUESTS_TIMEOUT", "y"}};
  try {
    Settings::from_environment(options);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_TRUE(contains(message, "2 errors")) << message;
    EXPECT_TRUE(contains(message, "REDIS_MAX_CONNECTIONS=\"x\"")) << message;
    EXPECT_TRUE(contains(message, "REQUESTS_TIMEOUT=\"y\"")) << message;
    EXPECT_EQ(error.code(), ErrorCode::config);
  }
}

TEST_F(SettingsLoad, FromEnvironmentReturnsTheTypedSettingsWhenValid) {
  LoadOptions options;
  options.discover_env_file = false;
  options.environment = Environment{{"REDIS_MAX_CONNECTIONS", "64"}};
  EXPECT_EQ(Settings::from_environment(options).redis.max_connections, 64u);
}

// ----- secrets ----------------------------------------------------------------------------------

TEST_F(SettingsLoad, MongoSocketPathWrittenAsAPercentEncodedHostIsAccepted) {
  const LoadResult result = load({{"MONGODB_URL", "mongodb://%2Ftmp%2Fmongodb-27017.sock/app"}});
  ASSERT_TRUE(result.ok()) << (result.errors.empty() ? "" : result.errors[0].message);
  const Url& url = *result.settings->mongo.url;
  ASSERT_EQ(url.hosts.size(), 1u);
  EXPECT_EQ(url.hosts[0].name, "/tmp/mongodb-27017.sock");
  EXPECT_FALSE(url.hosts[0].port.has_value());
  EXPECT_EQ(url.path, "/app");
}

TEST_F(SettingsLoad, PercentInAHostIsOnlyASocketPathForMongodb) {
  EXPECT_FALSE(load({{"MONGODB_URL", "mongodb://h%41st/app"}}).ok()) << "not a path";
  EXPECT_FALSE(load({{"REDIS_URL", "redis://%2Ftmp%2Fredis.sock/0"}}).ok())
      << "Redis names a socket with unix://";
}

TEST_F(SettingsLoad, RedisUserWithoutPasswordIsAnErrorThatDoesNotRepeatTheName) {
  // The lone name is often a password written without its ':'.
  const LoadResult result = load({{"REDIS_URL", "redis://" + test_secret() + "@127.0.0.1/0"}});
  const SettingProblem* error = problem_for(result.errors, "REDIS_URL");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message, "names a user but no password")) << scrubbed(error->message);
  EXPECT_TRUE(contains(error->message, "redis://:password@host/0")) << scrubbed(error->message);
}

TEST_F(SettingsLoad, RedisUserWithPasswordOptionIsAccepted) {
  const LoadResult result = load({{"REDIS_URL", "redis://app@127.0.0.1/0?password=x"}});
  EXPECT_TRUE(result.ok()) << (result.errors.empty() ? "" : result.errors[0].message);
}

TEST_F(SettingsLoad, SocketPathAtTheSystemLimitIsAccepted) {
  const std::string path = "/" + std::string(106, 's');
  EXPECT_TRUE(load({{"REDIS_URL", "unix://" + path}}).ok());
  EXPECT_FALSE(load({{"REDIS_URL", "unix://" + path + "s"}}).ok());
}

// libmongoc's check is part of settings validation whenever the MongoDB layer is linked into
// the program (core does not need libmongoc: see settings_detail.hpp). Calling it here links it
// into this test binary, as using mongo::Client does in a service.
TEST(MongoDriverUrlCheck, RefusesWhatLibmongocRefusesAndAcceptsTheRest) {
  EXPECT_TRUE(detail::mongo_driver_url_problem(parse_url("mongodb://127.0.0.1/app?w=1")).empty());
  const std::string problem =
      detail::mongo_driver_url_problem(parse_url("mongodb://127.0.0.1/app?maxpoolsize=abc"));
  EXPECT_TRUE(contains(problem, "libmongoc refuses it")) << problem;
}

TEST_F(SettingsLoad, LibmongocMessageNeverQuotesASecretOption) {
  // libmongoc quotes a bad value whole; here the value is the password, or a secret option's.
  const std::string secret = test_secret();
  for (const std::string& url :
       {secret_url("mongodb", "127.0.0.1/app?tls=" + secret),
        "mongodb://127.0.0.1/app?token=" + secret + "&maxPoolSize=" + secret}) {
    const LoadResult result = load({{"MONGODB_URL", url}});
    const SettingProblem* error = problem_for(result.errors, "MONGODB_URL");
    ASSERT_NE(error, nullptr);
    // Only the message: the displayed URL shows a value of an option not known to be secret.
    const std::string reason = error->message.substr(error->message.find("; "));
    expect_no_secret(reason, "the error message");
    EXPECT_TRUE(contains(reason, "libmongoc refuses it")) << scrubbed(reason);
  }
}

TEST_F(SettingsLoad, MongoSocketPathOverTheSystemLimitIsAnError) {
  const std::string path = "%2Frun%2F" + std::string(100, 'm') + ".sock";
  const LoadResult result = load({{"MONGODB_URL", "mongodb://" + path + "/app"}});
  const SettingProblem* error = problem_for(result.errors, "MONGODB_URL");
  ASSERT_NE(error, nullptr);
  EXPECT_TRUE(contains(error->message,
                       "a socket path is 110 bytes long, over the system's limit "
                       "of 107 bytes"))
      << error->message;
}

TEST_F(SettingsLoad, LibmongocMessageIsBounded) {
  const LoadResult result =
      load({{"MONGODB_URL", "mongodb://127.0.0.1/app?maxPoolSize=" + std::string(100000, '9')}});
  const SettingProblem* error = problem_for(result.errors, "MONGODB_URL");
  ASSERT_NE(error, nullptr);
  EXPECT_LT(error->message.size(), 800u) << error->message.substr(0, 800);
}

TEST_F(SettingsLoad, MetricsOnAllInterfacesIsAWarningSayingOtherMachinesCanReachThem) {
  for (const char* address : {"0.0.0.0:9464", "[::]:9464", "[0:0:0:0:0:0:0:0]:9464", "0:9464"}) {
    const LoadResult result = load({{"POOLKIT_METRICS_ADDR", address}});
    EXPECT_TRUE(result.ok()) << address;
    const SettingProblem* warning = problem_for(result.warnings, "POOLKIT_METRICS_ADDR");
    ASSERT_NE(warning, nullptr) << address;
    EXPECT_TRUE(contains(warning->message, "reachable from other machines")) << warning->message;
    EXPECT_TRUE(contains(warning->message, "127.0.0.1")) << warning->message;
  }
}

TEST_F(SettingsLoad, MetricsOnOneAddressIsNotWarnedAbout) {
  for (const char* address : {"127.0.0.1:9464", "[::1]:9464", "10.0.0.7:9464", "localhost:0"}) {
    const LoadResult result = load({{"POOLKIT_METRICS_ADDR", address}});
    EXPECT_TRUE(result.ok()) << address;
    EXPECT_EQ(problem_for(result.warnings, "POOLKIT_METRICS_ADDR"), nullptr) << address;
  }
}

TEST_F(SettingsLoad, MetricsAddressWithoutHostIsAnError) {
  EXPECT_FALSE(load({{"POOLKIT_METRICS_ADDR", ":9464"}}).ok()) << "the host must be explicit";
}

TEST_F(SettingsLoad, UrlPasswordIsMaskedInTheDisplayedValue) {
  const LoadResult result = load({{"REDIS_URL", secret_url("redis", "127.0.0.1:6379/0")}});
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(entry(result, "REDIS_URL").display, "redis://app:****@127.0.0.1:6379/0");
  EXPECT_TRUE(result.settings->redis.url->password == test_secret());
}

TEST_F(SettingsLoad, SecretNeverAppearsInAnythingShown) {
  const std::string secret = test_secret();
  const std::vector<Environment> cases{
      {{"MONGODB_URL", secret_url("mongodb", "127.0.0.1:27017/app")}},
      {{"MONGODB_URL", secret_url("mongodb", "127.0.0.1:99999/app")}},
      {{"MONGODB_URL", secret_url("mongodb", "h/app?waitQueueMultiple=2")}},
      {{"MONGODB_URL", "mongodb://app:" + secret + "/app"}},
      {{"MONGODB_URL", secret}},
      {{"MONGODB_URL", secret_url("postgres", "h/db")}},
      {{"REDIS_URL", secret_url("redis", "h:bad/0")}},
      {{"REDIS_URL", "redis://h/0?password=" + secret}},
      {{"REDIS_URL", "redis://h:0/0?password=" + secret}},
      {{"REDIS_URL", "redis://u:p@h/x?token=" + secret}},
      {{"REDIS_URL", "redis://u:" + secret + "@x@h/0"}},
      {{"REDIS_URL", secret_url("redis", "h/0")}, {"REDIS_MAX_CONNECTIONS", "bad"}},
  };
  for (const Environment& environment : cases) {
    const LoadResult result = load(environment);
    expect_no_secret(everything_shown(result), "the loaded result");
    for (const SettingEntry& e : result.entries) {
      if (e.raw && e.spec->secret) {
        EXPECT_FALSE(e.raw == e.display) << e.spec->name << " is shown unmasked";
      }
    }
  }
}

TEST_F(SettingsLoad, SecretNeverAppearsInAConfigError) {
  LoadOptions options;
  options.discover_env_file = false;
  options.environment = Environment{{"MONGODB_URL", secret_url("mongodb", "h:99999/app")}};
  try {
    Settings::from_environment(options);
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    expect_no_secret(error.what(), "the ConfigError");
    EXPECT_TRUE(contains(error.what(), "mongodb://app:****@h:99999/app")) << scrubbed(error.what());
  }
}

TEST_F(SettingsLoad, SecretInAMalformedDotenvLineIsNeverShown) {
  const std::string secret = test_secret();
  const LoadResult result = load({}, "REDIS_URL=\"redis://app:" + secret + "@h/0\n" + secret +
                                         "\nMONGODB_URL='" + secret + "' junk\n");
  EXPECT_EQ(result.errors.size(), 3u);
  expect_no_secret(everything_shown(result), "the loaded result");
}

}  // namespace
}  // namespace poolkit

// ----- min <= max for settings built in code ----------------------------------------------------

TEST(RequireOrdered, ThrowsTheWordsOfSettingsValidationForSettingsBuiltInCode) {
  const auto values = [](double min, double max) {
    return [=](std::string_view name) -> std::optional<double> {
      if (name == poolkit::setting::kMongodbMinPoolSize) return min;
      if (name == poolkit::setting::kMongodbMaxPoolSize) return max;
      return std::nullopt;
    };
  };
  EXPECT_NO_THROW(poolkit::detail::require_ordered(values(5, 5)));
  try {
    poolkit::detail::require_ordered(values(9, 3));
    ADD_FAILURE() << "min above max must be refused";
  } catch (const poolkit::ConfigError& error) {
    EXPECT_STREQ(error.what(),
                 "MONGODB_MIN_POOL_SIZE=9 is larger than MONGODB_MAX_POOL_SIZE=3: the minimum "
                 "must not exceed the maximum");
  }
}

TEST(RequireOrdered, AWarningRuleIsNotAnError) {
  // AIOHTTP_LIMIT_PER_HOST above AIOHTTP_POOL_LIMIT only earns a warning in validation.
  EXPECT_NO_THROW(poolkit::detail::require_ordered([](std::string_view name) {
    return std::optional<double>(name == poolkit::setting::kAiohttpLimitPerHost ? 50 : 10);
  }));
}
