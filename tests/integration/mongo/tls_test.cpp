// MongoDB over TLS against FerretDB's TLS listener, with a CA made at test time (TestCa): the URI
// options reach libmongoc and are really used (the wrong CA fails), CRUD, the pool's bound and a
// restart under load over TLS, every certificate failure as a TlsError naming the server and the
// cause (quickly, not retried, nothing secret in it), mutual TLS, and the options that turn
// verification off (which work, with a warning).

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "local_servers/ferretdb.hpp"
#include "local_servers/test_ca.hpp"
#include "mongo_server.hpp"
#include "poolkit/error.hpp"
#include "poolkit/mongo.hpp"
#include "process.hpp"
#include "restart_load.hpp"

namespace poolkit::test {
namespace {

using local::FerretDbServer;
using local::TestCa;
using mongo::Client;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string secret() {
  const char* value = std::getenv("POOLKIT_TEST_SECRET");
  return value != nullptr ? value : "pkSecretUnset";
}

// `text` with the secret replaced, for failure messages (the test output is scanned for it).
std::string shown(std::string text) {
  const std::string hidden = secret();
  for (auto at = text.find(hidden); at != std::string::npos; at = text.find(hidden, at)) {
    text.replace(at, hidden.size(), "<SECRET>");
  }
  return text;
}

// The kinds of FerretDB TLS servers the tests need, each started once per process.
enum class Kind { good, wrong_name, expired, client_auth };

class MongoTls : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto reason = FerretDbServer::unavailable_reason()) GTEST_SKIP() << *reason;
  }

  static void TearDownTestSuite() { servers_.clear(); }

  static const TestCa& ca() { return TestCa::shared(); }

  // Started on first use, so a filtered run starts only what it needs.
  static FerretDbServer& server(Kind kind) {
    auto& slot = servers_[kind];
    if (!slot) slot = std::make_unique<FerretDbServer>(options(kind));
    return *slot;
  }

  static FerretDbServer::Options options(Kind kind) {
    FerretDbServer::Tls tls;
    tls.ca_file = ca().ca_file();
    switch (kind) {
      case Kind::good:
        tls.server.files = ca().server();
        break;
      case Kind::wrong_name:
        tls.server.files = ca().wrong_name_server();
        break;
      case Kind::expired:
        tls.server.files = ca().expired_server();
        break;
      case Kind::client_auth:
        tls.server.files = ca().server();
        tls.server.client_ca = ca().ca_file();
        break;
    }
    FerretDbServer::Options options;
    options.tls = tls;
    return options;
  }

  // MongoDB wants the client's certificate and key in one PEM file.
  static std::string client_certificate_key_file() { return ca().client().combined.string(); }

  // Settings for `url`: no warm minimum, quick failures.
  static MongoSettings settings_for(const std::string& url) {
    MongoSettings s = Settings::defaults().mongo;
    s.url = parse_url(url);
    s.min_pool_size = 0;
    s.server_selection_timeout = 2000ms;
    s.connect_timeout = 2000ms;
    return s;
  }

  static std::string url_of(Kind kind, const std::string& extra = "") {
    return server(kind).url() + extra;
  }

  // 127.0.0.1:port of a server.
  static std::string host_of(Kind kind) {
    return "127.0.0.1:" + std::to_string(server(kind).port());
  }

  // The TlsError a ping earns, after checking it is quick, not retryable and free of the secret.
  static std::string tls_failure_of(const std::string& url) {
    Client client(settings_for(url));
    const auto started = Clock::now();
    try {
      client.ping();
    } catch (const TlsError& error) {
      const auto elapsed = Clock::now() - started;
      // One scan fails at once: not after the server selection's wait (2 s here).
      EXPECT_LT(elapsed, 1500ms);
      EXPECT_FALSE(error.retryable());
      EXPECT_EQ(error.code(), ErrorCode::tls);
      EXPECT_EQ(error.backend(), Backend::mongo);
      const std::string message = error.what();
      EXPECT_FALSE(contains(message, secret()));
      EXPECT_TRUE(message.starts_with("TLS to 127.0.0.1:")) << shown(message);
      return message;
    } catch (const std::exception& other) {
      ADD_FAILURE() << "expected a TlsError, got: " << shown(other.what());
      return {};
    }
    ADD_FAILURE() << "the ping worked over " << shown(url);
    return {};
  }

  static void ping_works(const std::string& url, std::size_t expected_warnings = 0) {
    std::vector<std::string> warned;
    mongo::Options client_options;
    client_options.on_warning = [&warned](const std::string& w) { warned.push_back(w); };
    Client client(settings_for(url), client_options);
    EXPECT_NO_THROW(client.ping());
    EXPECT_EQ(warned.size(), expected_warnings);
    for (const std::string& warning : warned) EXPECT_FALSE(contains(warning, secret()));
  }

 private:
  static inline std::map<Kind, std::unique_ptr<FerretDbServer>> servers_;
};

TEST_F(MongoTls, TheUriTlsOptionsReachLibmongocAsGiven) {
  const std::string key_file = client_certificate_key_file();
  const std::string url =
      url_of(Kind::client_auth, "&tlsCertificateKeyFile=" + key_file +
                                    "&tlsCertificateKeyFilePassword=" + secret() +
                                    "&tlsAllowInvalidHostnames=false");
  Client client(settings_for(url));
  auto lease = client.checkout();
  const mongoc_uri_t* uri = mongoc_client_get_uri(*lease);
  EXPECT_TRUE(mongoc_uri_get_tls(uri));
  EXPECT_EQ(std::string(mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_TLSCAFILE, "")),
            std::string(ca().ca_file()));
  EXPECT_EQ(std::string(mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_TLSCERTIFICATEKEYFILE, "")),
            key_file);
  EXPECT_EQ(
      std::string(mongoc_uri_get_option_as_utf8(uri, MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD, "")),
      secret());
  EXPECT_FALSE(mongoc_uri_get_option_as_bool(uri, MONGOC_URI_TLSALLOWINVALIDHOSTNAMES, true));
  EXPECT_FALSE(contains(client.address(), secret()));
  for (const std::string& warning : client.warnings()) EXPECT_FALSE(contains(warning, secret()));
}

TEST_F(MongoTls, CrudOverTls) {
  Client client(settings_for(url_of(Kind::good)));
  const std::string collection = "tls_crud";
  client.with_collection("poolkit_test", collection, [](mongoc_collection_t* c, bson_error_t& e) {
    bson_t* doc = BCON_NEW("_id", BCON_INT32(1), "name", BCON_UTF8("over tls"));
    const bool ok = mongoc_collection_insert_one(c, doc, nullptr, nullptr, &e);
    bson_destroy(doc);
    return ok;
  });
  client.with_collection("poolkit_test", collection, [](mongoc_collection_t* c, bson_error_t& e) {
    bson_t* filter = BCON_NEW("_id", BCON_INT32(1));
    bson_t* update = BCON_NEW("$set", "{", "name", BCON_UTF8("updated"), "}");
    const bool ok = mongoc_collection_update_one(c, filter, update, nullptr, nullptr, &e);
    bson_destroy(filter);
    bson_destroy(update);
    return ok;
  });
  const std::string found =
      client.run_command_json("poolkit_test", R"({"find": "tls_crud", "filter": {"_id": 1}})");
  EXPECT_TRUE(contains(found, "updated")) << found;
  client.with_collection("poolkit_test", collection, [](mongoc_collection_t* c, bson_error_t& e) {
    bson_t* filter = BCON_NEW("_id", BCON_INT32(1));
    const bool ok = mongoc_collection_delete_one(c, filter, nullptr, nullptr, &e);
    bson_destroy(filter);
    return ok;
  });
  const std::string after =
      client.run_command_json("poolkit_test", R"({"find": "tls_crud", "filter": {"_id": 1}})");
  EXPECT_FALSE(contains(after, "updated")) << after;
}

TEST_F(MongoTls, ThePoolsBoundHoldsAtTheServer) {
  FerretDbServer& ferretdb = server(Kind::good);
  ASSERT_TRUE(eventually([&] { return ferretdb.open_connections() == 0; }, 10s));
  MongoSettings s = settings_for(url_of(Kind::good));
  s.max_pool_size = 3;
  s.wait_queue_timeout = 10s;
  Client client(s);
  std::atomic<int> highest{0};
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    for (int i = 0; i < 3000 && !done; ++i) {  // bounded: 30 s at most
      if (auto n = ferretdb.open_connections()) highest = std::max(highest.load(), *n);
      std::this_thread::sleep_for(10ms);
    }
  });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        auto lease = client.checkout();
        bson_t* ping = BCON_NEW("ping", BCON_INT32(1));
        client.run_command(lease, "admin", *ping);
        bson_destroy(ping);
        std::this_thread::sleep_for(2ms);  // held a while, so threads must wait for each other
        ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  done = true;
  sampler.join();
  EXPECT_EQ(ok, 8 * 30);
  EXPECT_GT(highest, 0);
  EXPECT_LE(highest, 3);
  EXPECT_LE(client.stats().pool.total, 3u);
}

TEST_F(MongoTls, IdleConnectionsAreClosedAtTheServerDownToTheWarmMinimum) {
  FerretDbServer& ferretdb = server(Kind::good);
  ASSERT_TRUE(eventually([&] { return ferretdb.open_connections() == 0; }, 10s));
  MongoSettings s = settings_for(url_of(Kind::good));
  s.min_pool_size = 1;
  s.max_pool_size = 8;
  s.max_idle_time = 400ms;
  mongo::Options options;
  options.background_interval = 50ms;
  {
    Client client(s, options);
    {
      std::vector<mongo::Lease> leases;
      for (int i = 0; i < 5; ++i) leases.push_back(client.checkout());
      ASSERT_TRUE(eventually([&] { return ferretdb.open_connections() == 5; }, 10s));
    }
    // All five idle now: after 400 ms all but the minimum are closed, and the server knows.
    EXPECT_TRUE(eventually([&] { return ferretdb.open_connections() == 1; }, 10s));
    EXPECT_GE(client.stats().pool.closed_by(CloseReason::idle), 4u);
  }
  EXPECT_TRUE(eventually([&] { return ferretdb.open_connections() == 0; }, 10s));
}

TEST_F(MongoTls, ServerRestartedMidLoadGivesTypedFailuresAndWorkResumes) {
  FerretDbServer& ferretdb = server(Kind::good);
  MongoSettings s = settings_for(url_of(Kind::good));
  s.max_pool_size = 4;
  s.min_pool_size = 2;
  s.wait_queue_timeout = 2000ms;
  s.server_selection_timeout = 1000ms;
  s.connect_timeout = 1000ms;
  s.socket_timeout = 2000ms;
  s.heartbeat_frequency = 500ms;
  mongo::Options client_options;
  client_options.background_interval = 50ms;
  Client client(s, client_options);

  Outcomes outcomes;
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 8; ++t) {
    workers.emplace_back([&] { work(client, "tls_restart", outcomes, stop); });
  }
  const bool worked_before = eventually([&] { return outcomes.ok > 50; }, 10s);
  ferretdb.stop(/*crash=*/true);
  const bool failed_while_down = eventually([&] { return outcomes.failures() > 0; }, 10s);
  std::this_thread::sleep_for(500ms);
  ferretdb.start();
  const int ok_at_restart = outcomes.ok;
  const bool resumed = eventually([&] { return outcomes.ok > ok_at_restart + 50; }, 20s);
  stop = true;
  for (auto& worker : workers) worker.join();

  EXPECT_TRUE(worked_before);
  EXPECT_TRUE(failed_while_down);
  EXPECT_TRUE(resumed);
  std::lock_guard lock(outcomes.mutex);
  std::string summary = "ok " + std::to_string(outcomes.ok.load());
  for (const auto& [kind, count] : outcomes.errors) {
    summary += ", " + kind + " " + std::to_string(count);
    // A server away is no certificate failure: never a TlsError.
    EXPECT_TRUE(kind == "pool_timeout" || kind == "connect" || kind == "timeout" ||
                kind == "pool_cleared")
        << kind << " x" << count << ", first: " << outcomes.examples[kind];
  }
  std::cout << "outcomes over TLS: " << summary << "; slowest " << outcomes.slowest_ms.load()
            << " ms\n";
  EXPECT_LT(outcomes.slowest_ms.load(), 2000 + 1000 + 1000 + 2000 + 2000);
  EXPECT_LE(client.stats().pool.total, 4u);
}

TEST_F(MongoTls, AServerCertificateFromAnotherCaIsAnUnknownIssuer) {
  // With a password and a key password in the URL: neither may show in the message.
  std::string url = url_of(Kind::good, "&tlsCertificateKeyFilePassword=" + secret());
  url.replace(url.find(ca().ca_file()), std::string(ca().ca_file()).size(),
              std::string(ca().other_ca_file()));
  url.replace(url.find("127.0.0.1"), 0, "app:" + secret() + "@");
  const std::string message = tls_failure_of(url);
  EXPECT_TRUE(contains(message, host_of(Kind::good))) << shown(message);
  EXPECT_TRUE(contains(message, "unknown issuer")) << shown(message);
  EXPECT_TRUE(contains(message, "tlsCAFile (now " + ca().other_ca_file().string() + ")"))
      << shown(message);
}

TEST_F(MongoTls, WithoutTlsCaFileTheSystemStoreIsUsedAndDoesNotKnowTheTestCa) {
  const std::string url = "mongodb://" + host_of(Kind::good) + "/?tls=true";
  const std::string message = tls_failure_of(url);
  EXPECT_TRUE(contains(message, "unknown issuer")) << shown(message);
  EXPECT_TRUE(contains(message, "system trust store")) << shown(message);
}

// Sets a variable for the scope of a test, then puts back what was there.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
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

// Without tlsCAFile, the system's trust store is read from OpenSSL's hashed CA directory (lazily)
// instead of its whole bundle per connection: a hashed directory holding the system's CAs and the
// test CA, named by SSL_CERT_DIR, is what verifies the server.
TEST_F(MongoTls, WithoutTlsCaFileTheHashedSystemDirectoryIsTheTrustStore) {
  const std::filesystem::path dir = ca().dir() / "hashed-system-store";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(ca().ca_file(), dir / "poolkit-test-ca.pem",
                             std::filesystem::copy_options::overwrite_existing);
  const std::string make = "cp -L /etc/ssl/certs/*.pem " + dir.string() +
                           " 2>/dev/null; openssl rehash " + dir.string() + " >/dev/null 2>&1";
  if (std::system(make.c_str()) != 0) {
    GTEST_SKIP() << "no `openssl rehash` to make a hashed CA directory";
  }
  const std::string url = "mongodb://" + host_of(Kind::good) + "/?tls=true";
  {
    const ScopedVariable ssl_cert_dir("SSL_CERT_DIR", dir.string());
    ping_works(url);
  }
  // And without it the system's own store does not know the test CA.
  const std::string message = tls_failure_of(url);
  EXPECT_TRUE(contains(message, "unknown issuer")) << shown(message);
}

TEST_F(MongoTls, ACertificateForAnotherNameIsAHostnameMismatchUnlessAllowed) {
  const std::string message =
      tls_failure_of(url_of(Kind::wrong_name, "&tlsAllowInvalidHostnames=false"));
  EXPECT_TRUE(contains(message, host_of(Kind::wrong_name))) << shown(message);
  EXPECT_TRUE(contains(message, "mismatch")) << shown(message);
  EXPECT_TRUE(contains(message, "tlsAllowInvalidHostnames")) << shown(message);

  ping_works(url_of(Kind::wrong_name, "&tlsAllowInvalidHostnames=true"), /*warnings=*/1);
}

TEST_F(MongoTls, AnExpiredServerCertificateSaysSo) {
  const std::string message = tls_failure_of(url_of(Kind::expired));
  EXPECT_TRUE(contains(message, host_of(Kind::expired))) << shown(message);
  EXPECT_TRUE(contains(message, "expired")) << shown(message);
}

TEST_F(MongoTls, AllowInvalidCertificatesAndTlsInsecureWorkWithAWarning) {
  std::string other_ca = url_of(Kind::good);
  other_ca.replace(other_ca.find(ca().ca_file()), std::string(ca().ca_file()).size(),
                   std::string(ca().other_ca_file()));
  ping_works(other_ca + "&tlsAllowInvalidCertificates=true", /*warnings=*/1);
  ping_works(other_ca + "&tlsInsecure=true", /*warnings=*/1);
  ping_works(url_of(Kind::expired, "&tlsAllowInvalidCertificates=true"), /*warnings=*/1);
}

TEST_F(MongoTls, MutualTlsWithoutAClientCertificateIsAClearError) {
  const std::string message = tls_failure_of(url_of(Kind::client_auth));
  EXPECT_TRUE(contains(message, host_of(Kind::client_auth))) << shown(message);
  EXPECT_TRUE(contains(message, "client certificate required")) << shown(message);
  EXPECT_TRUE(contains(message, "tlsCertificateKeyFile")) << shown(message);
}

TEST_F(MongoTls, MutualTlsWithACertificateFromAnotherCaIsRejected) {
  const std::string message = tls_failure_of(url_of(
      Kind::client_auth, "&tlsCertificateKeyFile=" + ca().other_ca_server().combined.string()));
  EXPECT_TRUE(contains(message, host_of(Kind::client_auth))) << shown(message);
  EXPECT_TRUE(contains(message, "client certificate rejected")) << shown(message);
  EXPECT_TRUE(contains(message, ca().other_ca_server().combined.string())) << shown(message);
}

TEST_F(MongoTls, MutualTlsWithTheClientCertificateWorks) {
  ping_works(url_of(Kind::client_auth, "&tlsCertificateKeyFile=" + client_certificate_key_file()));
}

TEST_F(MongoTls, TlsOnOneSideOnlyFailsWithinTheTimeoutsAndSaysSo) {
  // A plaintext client at the TLS port: the server closes at the first message.
  {
    Client client(settings_for("mongodb://" + host_of(Kind::good) + "/"));
    const auto started = Clock::now();
    try {
      client.ping();
      ADD_FAILURE() << "a plaintext ping worked at a TLS port";
    } catch (const ConnectError& error) {
      EXPECT_TRUE(contains(error.what(), "add tls=true")) << error.what();
    }
    EXPECT_LT(Clock::now() - started, 5s);
  }
  // A TLS client at a plaintext port: the handshake gets no answer within the connect timeout.
  FerretDbServer plain;
  MongoSettings s = settings_for("mongodb://127.0.0.1:" + std::to_string(plain.port()) +
                                 "/?tls=true&tlsCAFile=" + ca().ca_file().string());
  s.connect_timeout = 500ms;
  s.server_selection_timeout = 1000ms;
  Client client(s);
  const auto started = Clock::now();
  try {
    client.ping();
    ADD_FAILURE() << "a TLS ping worked at a plaintext port";
  } catch (const ConnectError& error) {
    EXPECT_TRUE(contains(error.what(), "remove tls=true")) << error.what();
  }
  EXPECT_LT(Clock::now() - started, 5s);
}

// A file named in the URL that cannot be used is a ConfigError before anything connects,
// naming the option and the path.
TEST_F(MongoTls, AMissingOrMalformedTlsFileIsAConfigErrorNamingTheOptionAndPath) {
  const std::string base = "mongodb://" + host_of(Kind::good) + "/?tls=true";
  const std::string missing = "/nonexistent/poolkit-ca.pem";
  const std::string not_pem = std::string(ca().server().key);  // a key, not a certificate
  const std::string no_key = std::string(ca().client().cert);  // a certificate without its key
  const std::vector<std::pair<std::string, std::string>> cases{
      {base + "&tlsCAFile=" + missing, "tlsCAFile " + missing},
      {base + "&tlsCAFile=" + not_pem, "tlsCAFile " + not_pem},
      {base + "&tlsCAFile=" + std::string(ca().ca_file()) + "&tlsCertificateKeyFile=" + no_key,
       "tlsCertificateKeyFile " + no_key},
  };
  for (const auto& [url, expected] : cases) {
    try {
      Client client(url);
      ADD_FAILURE() << "accepted " << url;
    } catch (const ConfigError& error) {
      const std::string message = error.what();
      EXPECT_TRUE(contains(message, expected)) << shown(message);
      EXPECT_TRUE(contains(message, "MONGODB_URL")) << shown(message);
    }
  }
}

}  // namespace
}  // namespace poolkit::test
