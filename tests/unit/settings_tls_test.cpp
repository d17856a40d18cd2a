// TLS settings (SPEC §3): files checked as settings load, naming the variable and the path;
// the CA bundle's fallback variables in order, with the one in force named; verification
// switched off is accepted and warned about; clients built in code get the same checks.

#include <gtest/gtest.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>

#include <string>

#include "core/tls_support.hpp"
#include "local_servers/test_ca.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"
#include "poolkit/settings.hpp"
#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using testing::contains;

class TlsSettings : public ::testing::Test {
 protected:
  LoadResult load(Environment environment) const {
    LoadOptions options;
    options.discover_env_file = false;
    options.environment = std::move(environment);
    return load_settings(options);
  }

  static std::string path(const std::filesystem::path& file) { return file.string(); }

  const local::TestCa& ca_ = local::TestCa::shared();
  testing::ScratchDirectory directory_;
};

const SettingProblem* problem_for(const std::vector<SettingProblem>& problems,
                                  std::string_view name) {
  for (const SettingProblem& problem : problems) {
    if (problem.name == name) return &problem;
  }
  return nullptr;
}

TEST_F(TlsSettings, UsableFilesLoadIntoTheLayersTlsOptions) {
  const LoadResult result = load({{"REDIS_SSL_CA_CERTS", path(ca_.ca_file())},
                                  {"REDIS_SSL_CERTFILE", path(ca_.client().cert)},
                                  {"REDIS_SSL_KEYFILE", path(ca_.client().key)},
                                  {"HTTP_CA_BUNDLE", path(ca_.ca_file())},
                                  {"HTTP_CLIENT_CERT", path(ca_.client().combined)}});
  ASSERT_TRUE(result.ok()) << result.errors.front().message;
  const Settings& settings = *result.settings;
  EXPECT_EQ(settings.redis.tls.ca_file, path(ca_.ca_file()));
  EXPECT_EQ(settings.redis.tls.ca_source, "REDIS_SSL_CA_CERTS");
  EXPECT_EQ(settings.redis.tls.key_file, path(ca_.client().key));
  EXPECT_TRUE(settings.redis.tls.verify_peer);
  EXPECT_TRUE(settings.redis.tls.verify_hostname);
  EXPECT_EQ(settings.http_async.tls, settings.http_sync.tls);
  EXPECT_EQ(settings.http_sync.tls.cert_file, path(ca_.client().combined));
  EXPECT_FALSE(settings.http_sync.tls.key_file.has_value());
  EXPECT_TRUE(result.warnings.empty());
}

TEST_F(TlsSettings, EachUnusableFileIsAnErrorNamingTheVariableAndPath) {
  const std::string missing = path(directory_.path() / "nowhere.pem");
  const std::string not_pem = path(directory_.write("notes.txt", "just text\n"));
  const LoadResult result = load({{"REDIS_SSL_CA_CERTS", missing},
                                  {"REDIS_SSL_CERTFILE", not_pem},
                                  {"HTTP_CLIENT_CERT", path(ca_.client().cert)},
                                  {"HTTP_CLIENT_KEY", path(ca_.server().key)}});
  ASSERT_FALSE(result.ok());
  const SettingProblem* ca = problem_for(result.errors, "REDIS_SSL_CA_CERTS");
  ASSERT_NE(ca, nullptr);
  EXPECT_TRUE(contains(ca->message, missing)) << ca->message;
  EXPECT_TRUE(contains(ca->message, "no such file")) << ca->message;
  const SettingProblem* cert = problem_for(result.errors, "REDIS_SSL_CERTFILE");
  ASSERT_NE(cert, nullptr);
  EXPECT_TRUE(contains(cert->message, "holds no PEM certificate")) << cert->message;
  const SettingProblem* key = problem_for(result.errors, "HTTP_CLIENT_KEY");
  ASSERT_NE(key, nullptr);
  EXPECT_TRUE(contains(key->message, "does not belong to the certificate")) << key->message;
  EXPECT_FALSE(result.settings.has_value());
}

// A path that never gives a PEM file must not hang the load: a fifo would block the open, a
// device could be read forever.
TEST_F(TlsSettings, APathThatIsNotARegularFileIsRefusedWithoutReadingIt) {
  const auto fifo = directory_.path() / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path : {fifo.string(), std::string("/dev/zero")}) {
    const LoadResult result = load({{"HTTP_CA_BUNDLE", path}, {"REDIS_SSL_CERTFILE", path}});
    const SettingProblem* problem = problem_for(result.errors, "HTTP_CA_BUNDLE");
    ASSERT_NE(problem, nullptr) << path;
    EXPECT_TRUE(contains(problem->message, "not a regular file")) << problem->message;
    EXPECT_NE(problem_for(result.errors, "REDIS_SSL_CERTFILE"), nullptr) << path;
  }
}

TEST_F(TlsSettings, AKeyWithoutItsCertificateOrACertificateWithoutAKeyIsAnError) {
  const LoadResult key_alone = load({{"REDIS_SSL_KEYFILE", path(ca_.client().key)}});
  ASSERT_NE(problem_for(key_alone.errors, "REDIS_SSL_KEYFILE"), nullptr);
  // The certificate's own file holds no key, and no key file is named.
  const LoadResult cert_alone = load({{"HTTP_CLIENT_CERT", path(ca_.client().cert)}});
  const SettingProblem* problem = problem_for(cert_alone.errors, "HTTP_CLIENT_CERT");
  ASSERT_NE(problem, nullptr);
  EXPECT_TRUE(contains(problem->message, "HTTP_CLIENT_KEY")) << problem->message;
}

TEST_F(TlsSettings, TheCaBundleFallsBackInRequestsOrderAndNamesItsSource) {
  const std::string ca = path(ca_.ca_file());
  const std::string other = path(ca_.other_ca_file());
  const auto source_with = [&](Environment environment) {
    const LoadResult result = load(std::move(environment));
    EXPECT_TRUE(result.ok());
    return std::pair{result.find("HTTP_CA_BUNDLE")->source.to_string(),
                     result.settings->http_async.tls.ca_source};
  };
  EXPECT_EQ(source_with({{"SSL_CERT_DIR", path(ca_.dir())}, {"SSL_CERT_FILE", other}}).second,
            "SSL_CERT_FILE");
  EXPECT_EQ(source_with({{"SSL_CERT_FILE", other}, {"CURL_CA_BUNDLE", ca}}).second,
            "CURL_CA_BUNDLE");
  EXPECT_EQ(source_with({{"CURL_CA_BUNDLE", other}, {"REQUESTS_CA_BUNDLE", ca}}),
            (std::pair<std::string, std::string>{"env:REQUESTS_CA_BUNDLE", "REQUESTS_CA_BUNDLE"}));
  EXPECT_EQ(source_with({{"REQUESTS_CA_BUNDLE", other}, {"HTTP_CA_BUNDLE", ca}}),
            (std::pair<std::string, std::string>{"env", "HTTP_CA_BUNDLE"}));
  EXPECT_EQ(source_with({{"SSL_CERT_DIR", path(ca_.dir())}}).second, "SSL_CERT_DIR");
  // An empty fallback is skipped, as requests does.
  EXPECT_EQ(source_with({{"REQUESTS_CA_BUNDLE", ""}, {"CURL_CA_BUNDLE", ca}}).second,
            "CURL_CA_BUNDLE");
}

TEST_F(TlsSettings, ABrokenFallbackFileIsAnErrorThatSaysWhereItWasRead) {
  const LoadResult result = load({{"REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem"}});
  const SettingProblem* problem = problem_for(result.errors, "HTTP_CA_BUNDLE");
  ASSERT_NE(problem, nullptr);
  EXPECT_TRUE(contains(problem->message, "REQUESTS_CA_BUNDLE")) << problem->message;
  EXPECT_TRUE(contains(problem->message, "/nonexistent/ca.pem")) << problem->message;
}

TEST_F(TlsSettings, VerificationOffIsAcceptedAndWarnedAbout) {
  const LoadResult result = load({{"REDIS_SSL_CERT_REQS", "none"},
                                  {"REDIS_SSL_CHECK_HOSTNAME", "no"},
                                  {"HTTP_TLS_VERIFY", "False"}});
  ASSERT_TRUE(result.ok());
  EXPECT_FALSE(result.settings->redis.tls.verify_peer);
  EXPECT_FALSE(result.settings->redis.tls.verify_hostname);
  EXPECT_FALSE(result.settings->http_sync.tls.verify_peer);
  for (const std::string_view name :
       {"REDIS_SSL_CERT_REQS", "REDIS_SSL_CHECK_HOSTNAME", "HTTP_TLS_VERIFY"}) {
    const SettingProblem* warning = problem_for(result.warnings, name);
    ASSERT_NE(warning, nullptr) << name;
    EXPECT_TRUE(contains(warning->message, "verification is off")) << warning->message;
  }
  // `optional` is read as `required`, as Python does for clients; no warning.
  const LoadResult optional = load({{"REDIS_SSL_CERT_REQS", "optional"}});
  EXPECT_TRUE(optional.settings->redis.tls.verify_peer);
  EXPECT_TRUE(optional.warnings.empty());
}

TEST_F(TlsSettings, ABooleanTakesTheUsualSpellingsAndRefusesTheRest) {
  EXPECT_TRUE(load({{"HTTP_TLS_VERIFY", "on"}}).settings->http_async.tls.verify_peer);
  EXPECT_FALSE(load({{"HTTP_TLS_VERIFY", "0"}}).settings->http_async.tls.verify_peer);
  const LoadResult bad = load({{"HTTP_TLS_VERIFY", "maybe"}});
  const SettingProblem* problem = problem_for(bad.errors, "HTTP_TLS_VERIFY");
  ASSERT_NE(problem, nullptr);
  EXPECT_TRUE(contains(problem->message, "true or false")) << problem->message;
}

TEST_F(TlsSettings, ClientsBuiltInCodeGetTheSameFileChecks) {
  const detail::TlsFileNames names{"ssl_ca_certs", "ssl_certfile", "ssl_keyfile"};
  TlsOptions tls;
  tls.ca_file = path(ca_.ca_file());
  tls.cert_file = path(ca_.client().cert);
  tls.key_file = path(ca_.client().key);
  EXPECT_NO_THROW(detail::require_usable_tls_files(tls, names));
  tls.key_file = path(ca_.server().key);
  try {
    detail::require_usable_tls_files(tls, names);
    FAIL() << "a key of another certificate was accepted";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), "ssl_keyfile")) << e.what();
    EXPECT_TRUE(contains(e.what(), "does not belong")) << e.what();
  }
  tls.key_file.reset();
  tls.ca_file = "/nonexistent/ca.pem";
  EXPECT_THROW(detail::require_usable_tls_files(tls, names), ConfigError);
}

TEST(TlsWords, VerifyResultsReadAsTheCauseAUserCanAct) {
  EXPECT_EQ(detail::verify_result_in_words(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY),
            "unknown issuer");
  EXPECT_EQ(detail::verify_result_in_words(X509_V_ERR_IP_ADDRESS_MISMATCH), "hostname mismatch");
  EXPECT_EQ(detail::verify_result_in_words(X509_V_ERR_CERT_HAS_EXPIRED), "certificate expired");
  EXPECT_TRUE(contains(detail::verify_result_advice(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
                                                    "HTTP_CA_BUNDLE", "HTTP_TLS_VERIFY"),
                       "HTTP_CA_BUNDLE"));
}

}  // namespace
}  // namespace poolkit
