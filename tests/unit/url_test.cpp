#include <gtest/gtest.h>

#include <poolkit/error.hpp>
#include <poolkit/url.hpp>
#include <string>
#include <vector>

#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using testing::contains;
using testing::expect_no_secret;
using testing::scrubbed;
using testing::test_secret;

// The message of the ConfigError that parsing `text` throws; fails the test if none is thrown.
std::string parse_error(const std::string& text) {
  try {
    parse_url(text);
  } catch (const ConfigError& error) {
    return error.what();
  }
  ADD_FAILURE() << "a URL was accepted that should have been rejected";
  return {};
}

TEST(UrlParse, RedisUrlSplitsIntoUserPasswordHostPortAndDatabase) {
  const Url url = parse_url("redis://app:" + test_secret() + "@127.0.0.1:6380/2");
  EXPECT_EQ(url.scheme, "redis");
  EXPECT_EQ(url.username, "app");
  EXPECT_TRUE(url.password == test_secret());
  ASSERT_EQ(url.hosts.size(), 1u);
  EXPECT_EQ(url.hosts[0], (UrlHost{"127.0.0.1", 6380}));
  EXPECT_EQ(url.path, "/2");
  EXPECT_TRUE(url.text == "redis://app:" + test_secret() + "@127.0.0.1:6380/2");
}

TEST(UrlParse, UserNameAndPasswordArePercentDecoded) {
  const Url url = parse_url("redis://us%40er:p%3Ass%2Fw%25rd@localhost/0");
  EXPECT_EQ(url.username, "us@er");
  EXPECT_EQ(url.password, "p:ss/w%rd");
}

TEST(UrlParse, UrlWithoutUserInfoHasNoPassword) {
  const Url url = parse_url("redis://localhost");
  EXPECT_EQ(url.username, "");
  EXPECT_FALSE(url.password.has_value());
  EXPECT_EQ(url.hosts[0], (UrlHost{"localhost", std::nullopt}));
  EXPECT_EQ(url.path, "");
}

TEST(UrlParse, PasswordWithoutUserNameIsKept) {
  const Url url = parse_url("redis://:" + test_secret() + "@localhost:6379");
  EXPECT_EQ(url.username, "");
  EXPECT_TRUE(url.password == test_secret());
}

TEST(UrlParse, MongodbUrlMayListSeveralHosts) {
  const Url url = parse_url("mongodb://h1:27017,h2,[::1]:27018/appdb?replicaSet=rs0");
  const std::vector<UrlHost> expected{{"h1", 27017}, {"h2", std::nullopt}, {"::1", 27018}};
  EXPECT_EQ(url.hosts, expected);
  EXPECT_EQ(url.path, "/appdb");
  EXPECT_EQ(url.query_value("replicaSet"), "rs0");
}

TEST(UrlParse, MongodbSrvUrlTakesOneHostWithoutPort) {
  const Url url = parse_url("mongodb+srv://cluster0.example.net/app");
  EXPECT_EQ(url.scheme, "mongodb+srv");
  EXPECT_EQ(url.hosts, (std::vector<UrlHost>{{"cluster0.example.net", std::nullopt}}));
}

TEST(UrlParse, UnixSocketUrlHasAPathAndNoHost) {
  const Url url = parse_url("unix:///run/redis/redis.sock?db=3");
  EXPECT_TRUE(url.hosts.empty());
  EXPECT_EQ(url.path, "/run/redis/redis.sock");
  EXPECT_EQ(url.query_value("db"), "3");
}

TEST(UrlParse, UnixSocketUrlMayCarryUserInfo) {
  const Url url = parse_url("unix://app:" + test_secret() + "@/run/redis.sock");
  EXPECT_EQ(url.username, "app");
  EXPECT_TRUE(url.password == test_secret());
  EXPECT_EQ(url.path, "/run/redis.sock");
}

TEST(UrlParse, HttpUrlKeepsItsPathAsWritten) {
  const Url url = parse_url("https://api.example.com:8443/v1/items%20all?limit=5");
  EXPECT_EQ(url.hosts[0], (UrlHost{"api.example.com", 8443}));
  EXPECT_EQ(url.path, "/v1/items%20all");
  EXPECT_EQ(url.query, (std::vector<UrlQueryParam>{{"limit", "5"}}));
}

TEST(UrlParse, SchemeIsCaseInsensitiveAndStoredLowerCase) {
  EXPECT_EQ(parse_url("REDIS://localhost").scheme, "redis");
}

TEST(UrlParse, QueryIsPercentDecodedAndLookupIgnoresCase) {
  const Url url = parse_url("mongodb://h/?appName=my%20app&W=majority&w=1");
  EXPECT_EQ(url.query_value("APPNAME"), "my app");
  EXPECT_EQ(url.query_value("w"), "1");  // the last one wins, as in the drivers
  EXPECT_EQ(url.query_value("missing"), std::nullopt);
}

// ----- rejections ------------------------------------------------------------------------------

struct RejectedUrl {
  const char* label;
  std::string text;
  const char* explanation;  // part of the error message
};

// Failure output names the case only: its text holds the password.
void PrintTo(const RejectedUrl& rejected, std::ostream* out) {
  *out << rejected.label;
}

class UrlRejection : public ::testing::TestWithParam<RejectedUrl> {};

TEST_P(UrlRejection, IsAConfigErrorThatExplainsWithoutQuotingTheUrl) {
  const std::string message = parse_error(GetParam().text);
  EXPECT_TRUE(contains(message, "invalid URL")) << scrubbed(message);
  EXPECT_TRUE(contains(message, GetParam().explanation)) << scrubbed(message);
  expect_no_secret(message, "the parse error");
}

const std::string kSecret = test_secret();

INSTANTIATE_TEST_SUITE_P(
    UrlParse, UrlRejection,
    ::testing::Values(
        RejectedUrl{"NoScheme", kSecret, "does not start with a scheme"},
        RejectedUrl{"UnknownScheme", "postgres://u:" + kSecret + "@h/db", "unsupported scheme"},
        RejectedUrl{"PortNotANumber", "redis://u:" + kSecret + "@h:abc/0", "port must be"},
        RejectedUrl{"PortZero", "redis://h:0", "from 1 to 65535"},
        RejectedUrl{"PortTooLarge", "mongodb://u:" + kSecret + "@h:65536/db", "from 1 to 65535"},
        RejectedUrl{"PortEmpty", "redis://h:/0", "port must be"},
        RejectedUrl{"PasswordWhereHostShouldBe", "redis://default:" + kSecret + "/0",
                    "port must be"},
        RejectedUrl{"EmptyHost", "redis://u:" + kSecret + "@/0", "no host"},
        RejectedUrl{"EmptyHostInList", "mongodb://h1,,h2/db", "empty entry"},
        RejectedUrl{"HostWithBadCharacter", "redis://ho$t:6379", "host name may contain only"},
        RejectedUrl{"UnencodedAtInPassword", "redis://u:" + kSecret + "@x@h/0",
                    "percent-encode it as %40"},
        RejectedUrl{"BadPercentEncoding", "redis://u:" + kSecret + "%zz@h/0",
                    "invalid percent-encoding"},
        RejectedUrl{"Fragment", "redis://u:ab#" + kSecret + "@h/0", "contains '#'"},
        RejectedUrl{"SeveralHttpHosts", "http://h1,h2/", "only mongodb://, redis:// and rediss://"},
        RejectedUrl{"SrvWithPort", "mongodb+srv://cluster.example.net:27017/db",
                    "exactly one host name and no port"},
        RejectedUrl{"SrvWithSeveralHosts", "mongodb+srv://a.example.net,b.example.net/db",
                    "exactly one host name and no port"},
        RejectedUrl{"UnixWithHost", "unix://localhost/run/redis.sock", "names a socket path"},
        RejectedUrl{"UnixWithoutPath", "unix://", "needs a socket path"},
        RejectedUrl{"QueryOptionWithoutEquals", "redis://h/0?" + kSecret, "has no '='"},
        RejectedUrl{"UnclosedIpv6", "redis://[::1:6379/0", "closing ']'"}),
    [](const ::testing::TestParamInfo<RejectedUrl>& param_info) { return param_info.param.label; });

// ----- redaction ---------------------------------------------------------------------------------

TEST(UrlRedaction, PasswordIsReplacedByStars) {
  const Url url = parse_url("redis://user:" + test_secret() + "@host:6379/0");
  EXPECT_EQ(url.redacted(), "redis://user:****@host:6379/0");
}

TEST(UrlRedaction, UrlWithoutSecretsIsShownAsIs) {
  for (const char* text : {"redis://127.0.0.1:6379/0", "http://127.0.0.1:1/",
                           "https://api.example.com/v1/items?limit=5",
                           "mongodb://h1:27017,[::1]:27018/app?replicaSet=rs0&authSource=admin",
                           "unix:///run/r.sock", "ftp://files.example.com/pub"}) {
    EXPECT_EQ(redact_url_text(text), text);
    try {
      EXPECT_EQ(parse_url(text).redacted(), text);
    } catch (const ConfigError&) {  // ftp:// does not parse; the text is still shown whole
    }
  }
}

TEST(UrlRedaction, LoneUserInfoIsMaskedBecauseItIsOftenAToken) {
  EXPECT_EQ(redact_url_text("https://" + test_secret() + "@api.example.com/repos"),
            "https://****@api.example.com/repos");
  EXPECT_EQ(redact_url_text("redis://app@127.0.0.1/0"), "redis://****@127.0.0.1/0");
}

TEST(UrlRedaction, HttpUserNameIsMaskedWithThePassword) {
  EXPECT_EQ(redact_url_text("https://" + test_secret() + ":x-oauth-basic@git.example.com/x"),
            "https://****@git.example.com/x");
}

TEST(UrlRedaction, SecretQueryValuesAreMaskedOthersKept) {
  const Url url = parse_url("redis://h/0?password=" + test_secret() + "&token=" + test_secret() +
                            "&client_name=web");
  EXPECT_EQ(url.redacted(), "redis://h/0?password=****&token=****&client_name=web");
}

TEST(UrlRedaction, MongoAuthMechanismPropertiesAreMasked) {
  const Url url = parse_url(
      "mongodb://h1:27017,h2:27017/db?authMechanism=MONGODB-AWS"
      "&authMechanismProperties=AWS_SESSION_TOKEN:" +
      test_secret());
  EXPECT_EQ(url.redacted(),
            "mongodb://h1:27017,h2:27017/db?authMechanism=MONGODB-AWS"
            "&authMechanismProperties=****");
}

TEST(UrlRedaction, RedactedUrlParsesBackToTheSameHostsAndUser) {
  const Url url = parse_url("mongodb://us%40er:" + test_secret() + "@[::1]:27017,h2/db?w=1");
  const Url again = parse_url(url.redacted());
  EXPECT_EQ(again.username, "us@er");
  EXPECT_EQ(again.hosts, url.hosts);
  EXPECT_EQ(again.query, url.query);
}

// The issue's first report: the last '@' of the whole text was taken as the end of the user
// info, so everything after an '@' in the query was printed in clear.
TEST(UrlRedaction, AtSignInTheQueryDoesNotUnmaskWhatFollowsIt) {
  EXPECT_EQ(redact_url_text("redis://127.0.0.1:99999/0?e=a@b&password=" + test_secret()),
            "redis://127.0.0.1:99999/0?e=a@b&password=****");
  EXPECT_EQ(redact_url_text("http://127.0.0.1:1/?email=a@b.c&password=" + test_secret() +
                            "&token=" + test_secret()),
            "http://127.0.0.1:1/?email=a@b.c&password=****&token=****");
}

TEST(UrlRedaction, UnparsableTextKeepsHostAndMasksThePassword) {
  EXPECT_EQ(redact_url_text("redis://u:" + test_secret() + "@h:99999/0"),
            "redis://u:****@h:99999/0");
}

TEST(UrlRedaction, PasswordWithoutAtWhereThePortShouldBeIsMasked) {
  EXPECT_EQ(redact_url_text("redis://default:" + test_secret() + "/0"), "redis://default:****/0");
  EXPECT_EQ(redact_url_text("redis://u:ab#" + test_secret() + "@h/0"), "redis://u:****#****");
  EXPECT_EQ(redact_url_text("redis://u:ab?" + test_secret() + "@h/0"), "redis://u:****?****");
}

TEST(UrlRedaction, TextWithoutSchemeIsHiddenEntirely) {
  EXPECT_EQ(redact_url_text(test_secret()), "****");
  EXPECT_EQ(redact_url_text(""), "");
}

TEST(UrlRedaction, BareQueryItemsAndFragmentsAreMasked) {
  EXPECT_EQ(
      redact_url_text("redis://u:x@h:bad/0?password=" + test_secret() + "&db=1&" + test_secret()),
      "redis://u:****@h:****/0?password=****&db=1&****");
  EXPECT_EQ(redact_url_text("https://app.example.com/cb#access_token=" + test_secret()),
            "https://app.example.com/cb#****");
}

TEST(UrlRedaction, PercentEncodedSecretParameterNamesAreRecognised) {
  EXPECT_EQ(redact_url_text("https://h/?pass%77ord=" + test_secret() + "&%74oken=" + test_secret()),
            "https://h/?pass%77ord=****&%74oken=****");
  EXPECT_EQ(redact_url_text("https://h/?bad%zzname=" + test_secret()),
            "https://h/?bad%zzname=****");
}

TEST(UrlRedaction, UrlInsideAQueryValueIsMaskedToo) {
  const std::string masked = redact_url_text("https://h/login?next=https%3A%2F%2Fu%3A" +
                                             test_secret() + "%40other.example.com%2F");
  expect_no_secret(masked, "the masked URL");
  EXPECT_TRUE(contains(masked, "other.example.com")) << scrubbed(masked);
}

TEST(UrlRedaction, SecretQueryKeysAreRecognisedByNameInAnyCase) {
  for (const char* key : {"password",
                          "PASS",
                          "pwd",
                          "token",
                          "access_token",
                          "refresh_token",
                          "secret",
                          "client_secret",
                          "apiKey",
                          "api_key",
                          "apikey",
                          "credentials",
                          "sig",
                          "signature",
                          "X-Amz-Signature",
                          "X-Amz-Credential",
                          "X-Amz-Security-Token",
                          "key",
                          "KEY",
                          "auth",
                          "code",
                          "tlsCertificateKeyFilePassword"}) {
    EXPECT_TRUE(is_secret_query_key(key)) << key;
  }
  for (const char* key : {"db", "replicaSet", "w", "appName", "authSource", "authMechanism",
                          "tlsCertificateKeyFile", "limit", "email", "keyspace"}) {
    EXPECT_FALSE(is_secret_query_key(key)) << key;
  }
}

TEST(UrlRedaction, CredentialHeadersAreMaskedByNameInAnyCase) {
  for (const char* name : {"Authorization", "proxy-authorization", "Cookie", "Set-Cookie",
                           "X-Api-Key", "X-Auth-Token", "X-Client-Secret"}) {
    EXPECT_EQ(redact_header_value(name, test_secret()), "****") << name;
  }
  EXPECT_EQ(redact_header_value("Content-Type", "application/json"), "application/json");
}

TEST(UrlScrub, DriverMessagesLoseEveryFormOfTheUrlsSecrets) {
  const Url url = parse_url("mongodb://app:p%40" + test_secret() +
                            "@h/db?tlsCertificateKeyFilePassword=" + test_secret() + "x&w=1");
  const std::string message = url.scrub("bad: p@" + test_secret() + " / p%40" + test_secret() +
                                        " / " + test_secret() + "x");
  expect_no_secret(message, "the scrubbed message");
  EXPECT_TRUE(contains(message, "bad: ")) << scrubbed(message);
}

// A password found in the mask itself once replaced a mask with a mask forever: "*", or the
// "****" of a URL that was redacted before it was parsed again.
TEST(UrlScrub, APasswordMadeOfAsterisksEnds) {
  for (const char* password : {"*", "**", "****", "*****"}) {
    const Url url = parse_url(std::string("redis://app:") + password + "@h:6379/0");
    const std::string message = url.scrub(std::string("auth with ") + password + " failed");
    EXPECT_TRUE(contains(message, "auth with *")) << message;
    EXPECT_TRUE(contains(message, " failed")) << message;
  }
  const Url redacted = parse_url(parse_url("redis://app:pw@h:6379/0").redacted());
  EXPECT_EQ(redacted.scrub("at redis://app:****@h:6379/0"), "at redis://app:****@h:6379/0");
}

}  // namespace
}  // namespace poolkit
