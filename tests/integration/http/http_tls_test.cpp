// Both HTTP clients over HTTPS against a real nginx with `ssl` on, its certificates from a CA
// made at test time: the trust store named by HTTP_CA_BUNDLE and its fallbacks, reuse and idle
// closing over TLS, every certificate failure as a TlsError with host and cause (not retried, no
// open circuit, nothing secret), mutual TLS, verification off, and a request's own TLS.

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "http_test_support.hpp"
#include "local_servers/test_ca.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::test {
namespace {

using local::TestCa;

const TestCa& ca() {
  return TestCa::shared();
}

http::Options trusting(const std::filesystem::path& ca_path) {
  auto options = plain_options();
  options.tls.ca_file = ca_path.string();
  options.tls.ca_source = "HTTP_CA_BUNDLE";
  return options;
}

TlsOptions own_tls(const std::filesystem::path& ca_path, const local::TlsFiles& client) {
  TlsOptions tls;
  tls.ca_file = ca_path.string();
  tls.cert_file = client.cert.string();
  tls.key_file = client.key.string();
  return tls;
}

std::string secret() {
  const char* value = std::getenv("POOLKIT_TEST_SECRET");
  return value != nullptr ? value : "poolkit-test-secret";
}

// The server's TLS files and, when mutual TLS is wanted, the CA its clients' certificates must
// come from.
Nginx tls_nginx(const local::TlsFiles& files, bool require_client_cert = false,
                int keepalive_timeout_s = 75) {
  local::ServerTls tls;
  tls.files = files;
  if (require_client_cert) tls.client_ca = ca().ca_file();
  return Nginx(tls, keepalive_timeout_s);
}

// Sends with the client and returns the TlsError it ends with (fails the test otherwise).
template <class Client>
std::optional<TlsError> tls_error_of(Client& client, http::Request request) {
  try {
    if constexpr (std::is_same_v<Client, http::SyncClient>) {
      client.send(std::move(request));
    } else {
      client.send(std::move(request)).get();
    }
  } catch (const TlsError& error) {
    return error;
  } catch (const std::exception& other) {
    ADD_FAILURE() << "expected a TlsError, got: " << other.what();
    return std::nullopt;
  }
  ADD_FAILURE() << "expected a TlsError, got a response";
  return std::nullopt;
}

std::string host_port(const Nginx& nginx) {
  return "127.0.0.1:" + std::to_string(nginx.port());
}

TEST(HttpTls, BothClientsGetOverHttpsAndReuseTheConnection) {
  auto nginx = tls_nginx(ca().server());
  ASSERT_TRUE(nginx.url("/").starts_with("https://"));
  http::SyncClient sync_client(trusting(ca().ca_file()));
  http::AsyncClient async_client(trusting(ca().ca_file()));
  EXPECT_GT(sync_client.get(nginx.url("/small.txt")).timings.tls.count(), 0)
      << "the first request's TLS handshake is timed";
  for (int i = 0; i < 50; ++i) {
    const auto sync_response = sync_client.get(nginx.url("/small.txt"));
    EXPECT_EQ(sync_response.status, 200);
    EXPECT_EQ(sync_response.body, "hello from nginx\n");
    const auto async_response =
        async_client.send(http::Request::get(nginx.url("/small.txt"))).get();
    EXPECT_EQ(async_response.status, 200);
    EXPECT_TRUE(sync_response.reused_connection);
    if (i > 0) {
      EXPECT_TRUE(async_response.reused_connection);
    }
  }
  const auto log = nginx.access_log(101);
  EXPECT_EQ(distinct_connections(log).size(), 2u) << "one TLS connection per client";
  EXPECT_EQ(sync_client.metrics().connections_new, 1u);
  EXPECT_EQ(async_client.metrics().connections_new, 1u);
}

TEST(HttpTls, ReCreatedConnectionsResumeTheTlsSession) {
  auto nginx = tls_nginx(ca().server());
  auto options = trusting(ca().ca_file());
  options.reuse_connections = false;
  http::SyncClient client(options);
  int resumed = 0;
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    const auto response = client.get(nginx.url("/session"));
    ASSERT_EQ(response.status, 200);
    EXPECT_FALSE(response.reused_connection);
    resumed += response.body == "r" ? 1 : 0;  // nginx's $ssl_session_reused
  }
  EXPECT_EQ(distinct_connections(nginx.access_log(kRequests)).size(),
            static_cast<std::size_t>(kRequests));
  // The first connection pays the full handshake; later ones resume (a few may not, should the
  // server rotate its ticket keys).
  EXPECT_GE(resumed, kRequests - 3);
}

TEST(HttpTls, IdleConnectionsClosedByTheServerAreReplacedWithoutErrors) {
  auto nginx = tls_nginx(ca().server(), false, 1);
  http::AsyncClient client(trusting(ca().ca_file()));
  for (int i = 0; i < 3; ++i) {
    std::vector<std::future<http::Response>> futures;
    for (int j = 0; j < 4; ++j)
      futures.push_back(client.send(http::Request::get(nginx.url("/small.txt"))));
    for (auto& future : futures) EXPECT_EQ(future.get().status, 200);
    std::this_thread::sleep_for(1500ms);  // past nginx's keepalive_timeout of 1 s
  }
  EXPECT_EQ(client.metrics().retries, 0u);
}

TEST(HttpTls, PerHostLimitHoldsAtTheServerOverTls) {
  auto nginx = tls_nginx(ca().server());
  auto options = trusting(ca().ca_file());
  options.max_connections_per_host = 4;
  http::AsyncClient client(options);
  std::vector<std::future<http::Response>> futures;
  for (int i = 0; i < 8; ++i) {
    futures.push_back(client.send(http::Request::get(nginx.url("/slow/second.bin"))));
  }
  for (int i = 0; i < 56; ++i) {
    futures.push_back(client.send(http::Request::get(nginx.url("/medium.bin"))));
  }
  int most_active = 0;
  int most_busy = 0;
  const auto all_done = [&] {
    return std::all_of(futures.begin(), futures.end(), [](auto& future) {
      return future.wait_for(0s) == std::future_status::ready;
    });
  };
  for (int i = 0; i < 250 && !all_done(); ++i) {
    const auto seen = nginx.connections();
    most_active = std::max(most_active, seen.active);
    most_busy = std::max(most_busy, seen.busy);
    std::this_thread::sleep_for(20ms);
  }
  int ok = 0;
  for (auto& future : futures) {
    const auto response = future.get();
    ok += response.status == 200 ? 1 : 0;
    if (response.body.size() == kMediumFileBytes) continue;
    EXPECT_EQ(response.body.size(), 16u * 1024) << "bodies arrive whole over TLS";
  }
  EXPECT_EQ(ok, 64);
  EXPECT_EQ(client.metrics().peak_in_flight, 4);
  EXPECT_LE(most_active, 4);
  EXPECT_GE(most_busy, 3) << "the test must really hold the limit for a while";
  EXPECT_LE(distinct_connections(nginx.access_log(64)).size(), 4u);
}

TEST(HttpTls, AServerRestartGivesTypedErrorsThenRecovers) {
  const int port = local::free_loopback_port();
  const auto start_server = [&] {
    local::NginxServer::Options options;
    options.port = port;
    options.tls = local::ServerTls{ca().server(), {}};
    auto server = std::make_unique<local::NginxServer>(options);
    std::ofstream(server->root() / "small.txt") << "hello over tls\n";
    return server;
  };
  auto server = start_server();
  auto options = trusting(ca().ca_file());
  options.retry = RetryPolicy::resilience(2, Backoff{10ms, 10ms, 0ms, 0.0}, 30s);
  http::AsyncClient client(options);
  const std::string url = server->url("/small.txt");
  for (int i = 0; i < 20; ++i) ASSERT_EQ(client.send(http::Request::get(url)).get().status, 200);
  server->stop();
  server.reset();
  try {
    client.send(http::Request::get(url)).get();
    ADD_FAILURE() << "expected an error while the server is down";
  } catch (const TlsError& error) {
    ADD_FAILURE() << "a server that is down is no TLS failure: " << error.what();
  } catch (const ConnectError& error) {
    EXPECT_NE(std::string(error.what()).find("127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << error.what();
  }
  server = start_server();
  EXPECT_EQ(client.send(http::Request::get(url)).get().body, "hello over tls\n")
      << "a new connection, with a new handshake, once the server is back";
}

struct CertificateCase {
  const char* name;
  local::TlsFiles (*server)();
  std::filesystem::path (*trusted_ca)();
  const char* cause;
};

const CertificateCase kCertificateCases[] = {
    {"UnknownIssuer", [] { return ca().server(); }, [] { return ca().other_ca_file(); },
     "unknown issuer"},
    {"WrongName", [] { return ca().wrong_name_server(); }, [] { return ca().ca_file(); },
     "hostname mismatch"},
    {"Expired", [] { return ca().expired_server(); }, [] { return ca().ca_file(); },
     "certificate expired"},
};

class HttpTlsCertificates : public ::testing::TestWithParam<CertificateCase> {};

TEST_P(HttpTlsCertificates, FailWithTlsErrorNamingHostAndCauseNotRetriedNoOpenCircuit) {
  const CertificateCase& tested = GetParam();
  auto nginx = tls_nginx(tested.server());
  auto options = trusting(tested.trusted_ca());
  // Retries and a breaker that would open after 2 failures: a certificate failure must use
  // neither.
  options.retry = RetryPolicy::resilience(3, Backoff{1ms, 1ms, 0ms, 0.0}, 30s);
  options.circuit_breaker = CircuitBreakerOptions{2, 30s, 1};
  http::AsyncClient async_client(options);
  http::SyncClient sync_client(options);
  const long accepted_before = nginx.accepted();
  const std::string url = nginx.url("/small.txt?token=" + secret());
  constexpr int kRequests = 4;
  for (int i = 0; i < kRequests; ++i) {
    for (auto error : {tls_error_of(async_client, http::Request::get(url)),
                       tls_error_of(sync_client, http::Request::get(url))}) {
      ASSERT_TRUE(error);
      const std::string message = error->what();
      EXPECT_EQ(error->code(), ErrorCode::tls);
      EXPECT_FALSE(error->retryable());
      EXPECT_NE(message.find("TLS to " + host_port(nginx) + " failed: " + tested.cause),
                std::string::npos)
          << message;
      EXPECT_NE(message.find("token=****"), std::string::npos) << message;
      EXPECT_EQ(message.find(secret()), std::string::npos) << "the secret leaked: " << message;
      EXPECT_NE(message.find("1 attempt"), std::string::npos) << message;
    }
  }
  // One handshake per request: no retry, and no circuit turning them into "circuit open". The
  // status request counts one more.
  EXPECT_EQ(nginx.accepted() - accepted_before, 2 * kRequests + 1);
  EXPECT_EQ(async_client.metrics().retries, 0u);
  EXPECT_EQ(async_client.metrics().hosts.at(0).circuit, CircuitState::closed);
}

INSTANTIATE_TEST_SUITE_P(Each, HttpTlsCertificates, ::testing::ValuesIn(kCertificateCases),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(HttpTls, UnknownIssuerAgainstTheSystemStoreSaysSo) {
  auto nginx = tls_nginx(ca().server());
  http::SyncClient client(plain_options());  // no CA named: the system store
  const auto error = tls_error_of(client, http::Request::get(nginx.url("/small.txt")));
  ASSERT_TRUE(error);
  const std::string message = error->what();
  EXPECT_NE(message.find("unknown issuer"), std::string::npos) << message;
  EXPECT_NE(message.find("the system trust store"), std::string::npos) << message;
  EXPECT_NE(message.find("HTTP_CA_BUNDLE"), std::string::npos) << "says what to set: " << message;
}

TEST(HttpTls, MutualTlsRequiredWithoutClientCertificateIsAClearErrorAndWorksWithOne) {
  auto nginx = tls_nginx(ca().server(), true);
  http::SyncClient without(trusting(ca().ca_file()));
  const auto error = tls_error_of(without, http::Request::get(nginx.url("/small.txt")));
  ASSERT_TRUE(error);
  const std::string message = error->what();
  EXPECT_NE(message.find("TLS to " + host_port(nginx) + " failed: client certificate required"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("HTTP_CLIENT_CERT"), std::string::npos) << message;

  auto options = trusting(ca().ca_file());
  options.tls.cert_file = ca().client().cert.string();
  options.tls.key_file = ca().client().key.string();
  http::AsyncClient with(options);
  EXPECT_EQ(with.send(http::Request::get(nginx.url("/small.txt"))).get().status, 200);
}

// `openssl s_server` requiring a client certificate: it refuses one's absence in the TLS layer
// (an alert after a TLS 1.3 handshake, a handshake failure in TLS 1.2), which nginx never does
// (it answers 400).
class OpensslServer {
 public:
  explicit OpensslServer(const std::string& tls_version) {
    const auto openssl = local::find_program("openssl");
    if (openssl.empty()) throw std::runtime_error("openssl not found");
    const bool listening = local::launch_until_listening(
        [&](int) {
          port_ = local::free_loopback_port();
          process_.emplace(std::vector<std::string>{
              openssl.string(), "s_server", "-accept", "127.0.0.1:" + std::to_string(port_),
              "-cert", ca().server().cert.string(), "-key", ca().server().key.string(), "-CAfile",
              ca().ca_file().string(), "-Verify", "1", "-www", "-quiet", "-" + tls_version});
          return local::Launched{*process_, port_};
        },
        5, 10s);
    if (!listening) throw std::runtime_error("openssl s_server did not listen");
  }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  int port_ = 0;
  std::optional<local::ChildProcess> process_;
};

TEST(HttpTls, AClientCertificateRefusedInTheTlsLayerSaysSo) {
  for (const std::string version : {"tls1_3", "tls1_2"}) {
    SCOPED_TRACE(version);
    OpensslServer server(version);
    http::SyncClient without(trusting(ca().ca_file()));
    const auto error = tls_error_of(without, http::Request::get(server.url()));
    ASSERT_TRUE(error);
    const std::string message = error->what();
    EXPECT_NE(
        message.find(version == "tls1_3" ? "client certificate required" : "handshake failure"),
        std::string::npos)
        << message;
    EXPECT_NE(message.find("HTTP_CLIENT_CERT"), std::string::npos) << message;
    auto options = trusting(ca().ca_file());
    options.tls.cert_file = ca().client().cert.string();
    options.tls.key_file = ca().client().key.string();
    http::SyncClient with(options);
    EXPECT_EQ(with.get(server.url()).status, 200);
  }
}

TEST(HttpTls, VerificationOffAcceptsTheWrongNameServer) {
  auto nginx = tls_nginx(ca().wrong_name_server());
  auto options = plain_options();
  options.tls.verify_peer = false;
  http::SyncClient client(options);
  EXPECT_EQ(client.get(nginx.url("/small.txt")).status, 200);
}

TEST(HttpTls, ARequestsOwnTlsAppliesToThatRequestOnly) {
  auto nginx = tls_nginx(ca().server(), true);
  http::AsyncClient client(trusting(ca().other_ca_file()));
  auto request = http::Request::get(nginx.url("/small.txt"));
  request.tls = own_tls(ca().ca_file(), ca().client());
  EXPECT_EQ(client.send(request).get().status, 200);
  EXPECT_EQ(client.send(request).get().status, 200);
  const auto error = tls_error_of(client, http::Request::get(nginx.url("/small.txt")));
  ASSERT_TRUE(error);
  EXPECT_NE(std::string(error->what()).find("unknown issuer"), std::string::npos) << error->what();
}

TEST(HttpTls, AFileThatCannotBeUsedIsAConfigErrorNamingSettingAndPath) {
  auto options = trusting("/nonexistent/poolkit-ca.pem");
  try {
    http::SyncClient client(options);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("HTTP_CA_BUNDLE"), std::string::npos) << message;
    EXPECT_NE(message.find("/nonexistent/poolkit-ca.pem"), std::string::npos) << message;
  }
  auto mismatched = trusting(ca().ca_file());
  mismatched.tls.cert_file = ca().client().cert.string();
  mismatched.tls.key_file = ca().server().key.string();
  EXPECT_THROW(http::AsyncClient client(mismatched), ConfigError);

  http::SyncClient client(trusting(ca().ca_file()));
  auto request = http::Request::get("https://127.0.0.1:9/");
  request.tls = TlsOptions{};
  request.tls->ca_file = "/nonexistent/request-ca.pem";
  try {
    client.send(request);
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& error) {
    EXPECT_NE(std::string(error.what()).find("the request's tls.ca_file"), std::string::npos)
        << error.what();
  }
}

TEST(HttpTls, AnHttpsUrlToAPlainServerSaysItDoesNotSpeakTls) {
  Nginx plain;
  const std::string url = "https://127.0.0.1:" + std::to_string(plain.port()) + "/small.txt";
  http::SyncClient client(trusting(ca().ca_file()));
  const auto error = tls_error_of(client, http::Request::get(url));
  ASSERT_TRUE(error);
  EXPECT_NE(std::string(error->what()).find("did not answer in TLS"), std::string::npos)
      << error->what();
}

TEST(HttpTls, Http2OverTlsIsOptInAndMultiplexesOnOneConnection) {
  auto nginx = tls_nginx(ca().server());
  const auto concurrent_gets = [&](bool http2) {
    auto options = trusting(ca().ca_file());
    options.http2 = http2;
    http::AsyncClient client(options);
    std::vector<std::future<http::Response>> futures;
    for (int i = 0; i < 16; ++i) {
      futures.push_back(client.send(http::Request::get(nginx.http2_url("/slow/second.bin"))));
    }
    int ok = 0;
    for (auto& future : futures) ok += future.get().status == 200 ? 1 : 0;
    EXPECT_EQ(ok, 16);
  };
  concurrent_gets(true);
  const auto multiplexed = distinct_connections(nginx.access_log(16));
  EXPECT_EQ(multiplexed.size(), 1u) << "HTTP/2 by ALPN: 16 streams on one connection";
  concurrent_gets(false);
  const auto log = nginx.access_log(32);
  const auto all = distinct_connections(log);
  EXPECT_GT(all.size() - multiplexed.size(), 4u)
      << "without the opt-in, HTTP/1.1: a connection per request in flight";
}

TEST(HttpTls, AnHttpUrlToATlsPortSaysToUseHttps) {
  auto nginx = tls_nginx(ca().server());
  const std::string url = "http://127.0.0.1:" + std::to_string(nginx.port()) + "/small.txt";
  http::AsyncClient client(plain_options());
  const auto error = tls_error_of(client, http::Request::get(url));
  ASSERT_TRUE(error);
  const std::string message = error->what();
  EXPECT_NE(message.find("TLS to " + host_port(nginx) + " failed"), std::string::npos) << message;
  EXPECT_NE(message.find("use an https:// URL"), std::string::npos) << message;
}

// ---- The trust store from the settings: HTTP_CA_BUNDLE, then each fallback in order.

// A directory holding the CA as OpenSSL looks it up: <subject hash>.0 (what `openssl rehash`
// writes).
std::string hashed_ca_directory(const std::filesystem::path& where) {
  std::filesystem::create_directories(where);
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(ca().ca_file().c_str(), "r"), std::fclose);
  if (!file) throw std::runtime_error("cannot read the test CA");
  std::unique_ptr<X509, void (*)(X509*)> cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr),
                                              X509_free);
  if (!cert) throw std::runtime_error("the test CA is not PEM");
  char name[16];
  std::snprintf(name, sizeof name, "%08lx.0", X509_subject_name_hash(cert.get()));
  std::filesystem::copy_file(ca().ca_file(), where / name,
                             std::filesystem::copy_options::overwrite_existing);
  return where.string();
}

Settings settings_with(Environment environment) {
  LoadOptions load;
  load.environment = std::move(environment);
  load.discover_env_file = false;
  return Settings::from_environment(load);
}

// The variables in the order they are looked at; SSL_CERT_FILE and SSL_CERT_DIR share a place.
const std::vector<std::string> kCaVariables = {"HTTP_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
                                               "CURL_CA_BUNDLE", "SSL_CERT_FILE"};

TEST(HttpTlsSettings, EachCaVariableIsUsedAndWinsOverTheOnesAfterIt) {
  auto nginx = tls_nginx(ca().server());
  const std::string url = nginx.url("/small.txt");
  for (std::size_t i = 0; i < kCaVariables.size(); ++i) {
    SCOPED_TRACE(kCaVariables[i]);
    Environment environment{{kCaVariables[i], ca().ca_file().string()}};
    // Every later variable names the unrelated CA: if one of them won, the request would fail.
    for (std::size_t j = i + 1; j < kCaVariables.size(); ++j) {
      environment[kCaVariables[j]] = ca().other_ca_file().string();
    }
    environment["SSL_CERT_DIR"] = "/nonexistent-ca-dir";
    const auto settings = settings_with(environment);
    http::SyncClient sync_client(settings.http_sync);
    EXPECT_EQ(sync_client.get(url).status, 200);
    http::AsyncClient async_client(settings.http_async);
    EXPECT_EQ(async_client.send(http::Request::get(url)).get().status, 200);
  }
}

TEST(HttpTlsSettings, AnEarlierVariableWinsEvenWhenItNamesTheWrongCa) {
  auto nginx = tls_nginx(ca().server());
  const auto settings = settings_with({{"HTTP_CA_BUNDLE", ca().other_ca_file().string()},
                                       {"REQUESTS_CA_BUNDLE", ca().ca_file().string()},
                                       {"SSL_CERT_FILE", ca().ca_file().string()}});
  http::SyncClient client(settings.http_sync);
  const auto error = tls_error_of(client, http::Request::get(nginx.url("/small.txt")));
  ASSERT_TRUE(error);
  EXPECT_NE(
      std::string(error->what()).find("HTTP_CA_BUNDLE (" + ca().other_ca_file().string() + ")"),
      std::string::npos)
      << error->what();
}

TEST(HttpTlsSettings, SslCertDirNamesAHashedDirectory) {
  auto nginx = tls_nginx(ca().server());
  const auto directory = hashed_ca_directory(std::filesystem::temp_directory_path() /
                                             ("poolkit-ca-dir-" + std::to_string(::getpid())));
  const auto settings = settings_with({{"SSL_CERT_DIR", directory}});
  http::AsyncClient client(settings.http_async);
  EXPECT_EQ(client.send(http::Request::get(nginx.url("/small.txt"))).get().status, 200);
  std::filesystem::remove_all(directory);
}

TEST(HttpTlsSettings, ClientCertificateAndVerifyComeFromTheSettings) {
  auto mutual = tls_nginx(ca().server(), true);
  const auto settings = settings_with({{"HTTP_CA_BUNDLE", ca().ca_file().string()},
                                       {"HTTP_CLIENT_CERT", ca().client().cert.string()},
                                       {"HTTP_CLIENT_KEY", ca().client().key.string()}});
  http::SyncClient client(settings.http_sync);
  EXPECT_EQ(client.get(mutual.url("/small.txt")).status, 200);

  auto wrong_name = tls_nginx(ca().wrong_name_server());
  const auto unverified = settings_with({{"HTTP_TLS_VERIFY", "false"}});
  http::AsyncClient async_client(unverified.http_async);
  EXPECT_EQ(async_client.send(http::Request::get(wrong_name.url("/small.txt"))).get().status, 200);
}

}  // namespace
}  // namespace poolkit::test
