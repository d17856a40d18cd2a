// MongoDB's TLS options without a server (src/mongo/uri_tls.cpp): what libmongoc reads from
// MONGODB_URL, the warnings for verification turned off and the checks of the files it names
// (from the library and from settings validation), and libmongoc's TLS failures put into words.
// tests/integration/mongo/tls_test.cpp does the same against FerretDB's TLS listener.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "mongo/mongo_detail.hpp"
#include "poolkit/error.hpp"
#include "poolkit/settings.hpp"
#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using testing::contains;

MongoSettings settings_with(const std::string& url) {
  MongoSettings settings = Settings::defaults().mongo;
  settings.url = parse_url(url);
  return settings;
}

std::string all(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  return text;
}

std::string all(const std::vector<SettingProblem>& problems) {
  std::string text;
  for (const SettingProblem& problem : problems)
    text += problem.name + " " + problem.message + "\n";
  return text;
}

LoadResult load_with_url(const std::string& url) {
  LoadOptions options;
  options.environment = Environment{{"MONGODB_URL", url}};
  options.discover_env_file = false;
  return load_settings(options);
}

bson_error_t libmongoc_error(std::uint32_t domain, const std::string& message) {
  bson_error_t error{};
  error.domain = domain;
  error.code = MONGOC_ERROR_SERVER_SELECTION_FAILURE;
  std::strncpy(error.message, message.c_str(), sizeof error.message - 1);
  return error;
}

mongo::detail::UriTls tls_on(std::string ca_file = "/etc/poolkit/ca.pem") {
  mongo::detail::UriTls tls;
  tls.enabled = true;
  tls.ca_file = std::move(ca_file);
  return tls;
}

// The files are checked before libmongoc sees them: the system's CA bundle stands in for a CA
// file (tests/integration/mongo/tls_test.cpp reads them all back with files of a test CA).
constexpr const char* kSystemBundle = "/etc/ssl/certs/ca-certificates.crt";

TEST(MongoTlsOptions, TheStandardUriOptionsReachLibmongoc) {
  if (!std::filesystem::exists(kSystemBundle)) GTEST_SKIP() << "no " << kSystemBundle;
  const std::string secret = testing::test_secret();
  const auto built = mongo::detail::build_uri(
      settings_with("mongodb://127.0.0.1/app?ssl=true&tlsCAFile=" + std::string(kSystemBundle) +
                    "&tlsCertificateKeyFilePassword=" + secret + "&tlsAllowInvalidHostnames=true"));
  const mongoc_uri_t* uri = built.uri.get();
  EXPECT_TRUE(mongoc_uri_get_tls(uri));  // ssl=true is the older spelling of tls=true
  EXPECT_STREQ(mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_TLSCAFILE, ""), kSystemBundle);
  EXPECT_EQ(mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD, ""),
            secret);
  EXPECT_TRUE(mongoc_uri_get_option_as_bool(uri, MONGOC_URI_TLSALLOWINVALIDHOSTNAMES, false));
  const auto tls = mongo::detail::tls_options_of(uri);
  EXPECT_TRUE(tls.enabled);
  EXPECT_TRUE(tls.allow_invalid_hostnames);
  EXPECT_FALSE(tls.allow_invalid_certificates);
  testing::expect_no_secret(all(built.warnings), "the warnings");
}

TEST(MongoTlsOptions, SrvImpliesTlsAndPlainUrlsHaveNone) {
  const auto srv =
      mongo::detail::build_uri(settings_with("mongodb+srv://cluster0.example.com/app"));
  EXPECT_TRUE(mongoc_uri_get_tls(srv.uri.get()));
  const auto plain = mongo::detail::build_uri(settings_with("mongodb://127.0.0.1/app"));
  EXPECT_FALSE(mongoc_uri_get_tls(plain.uri.get()));
  EXPECT_FALSE(mongo::detail::tls_options_of(plain.uri.get()).enabled);
}

TEST(MongoTlsOptions, TurningVerificationOffIsWarnedAboutByTheLibraryAndTheLoader) {
  for (const std::string option :
       {"tlsInsecure", "tlsAllowInvalidCertificates", "tlsAllowInvalidHostnames"}) {
    const std::string url = "mongodb://127.0.0.1/app?tls=true&" + option + "=true";
    const auto built = mongo::detail::build_uri(settings_with(url));
    ASSERT_EQ(built.warnings.size(), 1u) << all(built.warnings);
    EXPECT_TRUE(contains(built.warnings[0], option + "=true")) << built.warnings[0];

    const LoadResult loaded = load_with_url(url);
    EXPECT_TRUE(loaded.ok()) << all(loaded.errors);
    ASSERT_EQ(loaded.warnings.size(), 1u) << all(loaded.warnings);
    EXPECT_EQ(loaded.warnings[0].name, "MONGODB_URL");
    EXPECT_TRUE(contains(loaded.warnings[0].message, option + "=true"))
        << loaded.warnings[0].message;
  }
  const LoadResult verified =
      load_with_url("mongodb://127.0.0.1/app?tls=true&tlsAllowInvalidCertificates=false");
  EXPECT_TRUE(verified.warnings.empty()) << all(verified.warnings);
}

TEST(MongoTlsOptions, AMissingOrNonPemFileIsAConfigErrorNamingTheOptionAndThePath) {
  const testing::ScratchDirectory scratch;
  const std::string missing = (scratch.path() / "missing-ca.pem").string();
  const std::string not_pem = scratch.write("not-pem.pem", "not a certificate\n").string();
  const std::vector<std::pair<std::string, std::string>> cases{
      {"tlsCAFile=" + missing, "tlsCAFile " + missing},
      {"tlsCAFile=" + not_pem, "tlsCAFile " + not_pem},
      {"tlsCAFile=" + scratch.path().string(), "tlsCAFile " + scratch.path().string()},
      {"tlsCertificateKeyFile=" + not_pem, "tlsCertificateKeyFile " + not_pem},
  };
  for (const auto& [option, expected] : cases) {
    const std::string url = "mongodb://127.0.0.1/app?tls=true&" + option;
    try {
      mongo::detail::build_uri(settings_with(url));
      ADD_FAILURE() << "accepted " << url;
    } catch (const ConfigError& error) {
      EXPECT_TRUE(contains(error.what(), expected)) << error.what();
      EXPECT_TRUE(contains(error.what(), "MONGODB_URL")) << error.what();
    }
    const LoadResult loaded = load_with_url(url);
    EXPECT_FALSE(loaded.ok()) << url;
    EXPECT_TRUE(contains(all(loaded.errors), "MONGODB_URL")) << all(loaded.errors);
    EXPECT_TRUE(contains(all(loaded.errors), expected)) << all(loaded.errors);
  }
}

TEST(MongoTlsOptions, ThePasswordOfTheKeyFileIsMaskedWhereverTheUrlIsShown) {
  const std::string secret = testing::test_secret();
  const LoadResult loaded =
      load_with_url("mongodb://127.0.0.1/app?tls=true&tlsCertificateKeyFilePassword=" + secret);
  ASSERT_TRUE(loaded.ok()) << testing::scrubbed(all(loaded.errors));
  const SettingEntry* entry = loaded.find("MONGODB_URL");
  ASSERT_NE(entry, nullptr);
  ASSERT_TRUE(entry->display.has_value());
  testing::expect_no_secret(*entry->display, "the displayed MONGODB_URL");
  EXPECT_TRUE(contains(*entry->display, "tlsCertificateKeyFilePassword=****"))
      << testing::scrubbed(*entry->display);
}

// Sets (or, with nullopt, removes) a variable for the scope of a test, then puts back what was
// there.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const std::optional<std::string>& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value->c_str(), 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedVariable() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::size_t certificates_in_system_bundle() {
  std::ifstream in(X509_get_default_cert_file());
  std::string line;
  std::size_t count = 0;
  while (std::getline(in, line)) count += line.starts_with("-----BEGIN CERTIFICATE-----") ? 1 : 0;
  return count;
}

// A folder with `count` files under OpenSSL's hashed names.
void make_hashed_names(const std::filesystem::path& dir, std::size_t count) {
  std::filesystem::create_directories(dir);
  for (std::size_t i = 0; i < count; ++i) {
    std::ofstream(dir / fmt::format("{:08x}.0", i)) << "";
  }
}

TEST(MongoTlsTrustStore, AHashedDirectoryStandsInForTheSystemBundleOnlyWhenItCanHoldAllOfIt) {
  const std::size_t in_bundle = certificates_in_system_bundle();
  if (in_bundle < 2) GTEST_SKIP() << "no system CA bundle at " << X509_get_default_cert_file();
  const testing::ScratchDirectory scratch;
  const auto full = scratch.path() / "full";
  const auto partial = scratch.path() / "partial";
  make_hashed_names(full, in_bundle);
  make_hashed_names(partial, 1);
  const ScopedVariable no_bundle_of_ours(X509_get_default_cert_file_env(), std::nullopt);
  {
    const ScopedVariable dir(X509_get_default_cert_dir_env(), full.string());
    EXPECT_EQ(mongo::detail::system_ca_directory(tls_on("")), full.string());
    // tlsCAFile, or no TLS at all: nothing to stand in for.
    EXPECT_EQ(mongo::detail::system_ca_directory(tls_on("/etc/poolkit/ca.pem")), "");
    EXPECT_EQ(mongo::detail::system_ca_directory(mongo::detail::UriTls{}), "");
    // The system's bundle named again is still the system's; a bundle of one's own is kept.
    {
      const ScopedVariable same(X509_get_default_cert_file_env(),
                                std::string(X509_get_default_cert_file()));
      EXPECT_EQ(mongo::detail::system_ca_directory(tls_on("")), full.string());
    }
    const auto own = scratch.write("own-bundle.pem", "-----BEGIN CERTIFICATE-----\n");
    const ScopedVariable own_bundle(X509_get_default_cert_file_env(), own.string());
    EXPECT_EQ(mongo::detail::system_ca_directory(tls_on("")), "");
  }
  // Fewer CAs than the bundle holds (one appended by hand, say): the bundle stays.
  const ScopedVariable dir(X509_get_default_cert_dir_env(), partial.string());
  EXPECT_EQ(mongo::detail::system_ca_directory(tls_on("")), "");
}

// libmongoc 1.23's words for each failure, as it writes them after a failed server selection.
TEST(MongoTlsFailures, CertificateFailuresAreFoundInTheServerSelectionMessage) {
  const struct {
    std::string libmongoc_says;
    std::string cause;
    std::string advice;
  } cases[] = {
      {"certificate verify failed (20): unable to get local issuer certificate", "unknown issuer",
       "tlsCAFile (now /etc/poolkit/ca.pem)"},
      {"certificate verify failed (64): IP address mismatch", "mismatch",
       "tlsAllowInvalidHostnames"},
      {"certificate verify failed (62): hostname mismatch", "mismatch", "tlsAllowInvalidHostnames"},
      {"certificate verify failed (10): certificate has expired", "expired", "current certificate"},
  };
  for (const auto& c : cases) {
    const bson_error_t error = libmongoc_error(
        MONGOC_ERROR_SERVER_SELECTION,
        "No suitable servers found (`serverSelectionTryOnce` set): [TLS handshake failed: " +
            c.libmongoc_says + " calling hello on 'db.example.com:27017']");
    const auto failure = mongo::detail::tls_failure(error, tls_on());
    ASSERT_TRUE(failure.has_value()) << c.libmongoc_says;
    EXPECT_EQ(failure->server, "db.example.com:27017");
    EXPECT_TRUE(contains(failure->cause, c.cause)) << failure->cause;
    EXPECT_TRUE(contains(failure->advice, c.advice)) << failure->advice;
    EXPECT_FALSE(failure->retryable);
  }
}

TEST(MongoTlsFailures, TheFirstServerWithATlsFailureIsNamed) {
  const bson_error_t error = libmongoc_error(
      MONGOC_ERROR_SERVER_SELECTION,
      "No suitable servers found: `serverselectiontimeoutms` timed out: [connection closed "
      "calling hello on 'a.example.com:27017'] [TLS handshake failed: certificate verify failed "
      "(20): unable to get local issuer certificate calling hello on 'b.example.com:27018']");
  const auto failure = mongo::detail::tls_failure(error, tls_on(""));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->server, "b.example.com:27018");
  EXPECT_TRUE(contains(failure->advice, "system trust store")) << failure->advice;
}

TEST(MongoTlsFailures, OtherHandshakeFailuresAreTlsErrorsButACutHandshakeIsNot) {
  const bson_error_t handshake =
      libmongoc_error(MONGOC_ERROR_STREAM,
                      "TLS handshake failed: error:0A00010B:SSL routines::wrong version number");
  const auto failure = mongo::detail::tls_failure(handshake, tls_on());
  ASSERT_TRUE(failure.has_value());
  EXPECT_TRUE(failure->server.empty());  // the client's address stands in
  EXPECT_TRUE(contains(failure->cause, "wrong version number")) << failure->cause;
  EXPECT_FALSE(failure->retryable);  // the two sides will not agree on the next attempt either

  // A server restarting cuts the handshake: a lost connection, left to ConnectError.
  for (const std::string cut : {"unexpected eof while reading", "Connection reset by peer"}) {
    const bson_error_t lost = libmongoc_error(
        MONGOC_ERROR_SERVER_SELECTION,
        "No suitable servers found (`serverSelectionTryOnce` set): [TLS handshake failed: " + cut +
            " calling hello on '127.0.0.1:27017']");
    EXPECT_FALSE(mongo::detail::tls_failure(lost, tls_on()).has_value()) << cut;
  }

  const bson_error_t refused = libmongoc_error(
      MONGOC_ERROR_SERVER_SELECTION,
      "No suitable servers found (`serverSelectionTryOnce` set): [connection closed calling "
      "hello on '127.0.0.1:27017']");
  EXPECT_FALSE(mongo::detail::tls_failure(refused, tls_on()).has_value());
  EXPECT_TRUE(mongo::detail::is_closed_while_connecting(refused));
  // Without TLS nothing is read as a TLS failure.
  EXPECT_FALSE(mongo::detail::tls_failure(handshake, mongo::detail::UriTls{}).has_value());
}

}  // namespace
}  // namespace poolkit
