// MongoDB over TLS: the URI's TLS options as libmongoc reads them, the files they name checked
// before anything connects, and libmongoc's TLS failures put into words.
//
// libmongoc (1.23) applies the URI's TLS options itself when a client is created from a URI
// with tls=true (mongoc_client_new_from_uri), so nothing more is needed to make them effective.
// What it does not do: say clearly when a file is wrong (it logs "Cannot load Certificate
// Authorities" and fails every connection with "connection error"), nor name a certificate
// failure outside of a server selection message ("No suitable servers found ... [TLS handshake
// failed: certificate verify failed (20): unable to get local issuer certificate calling hello
// on 'host:port']").

#include <fmt/format.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "../core/tls_support.hpp"
#include "mongo_detail.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::mongo::detail {
namespace {

bool uri_bool(const mongoc_uri_t* uri, const char* key) {
  return mongoc_uri_get_option_as_bool(uri, key, false);
}

std::string uri_text(const mongoc_uri_t* uri, const char* key) {
  const char* value = mongoc_uri_get_option_as_utf8(uri, key, nullptr);
  return value != nullptr ? value : "";
}

// The part of libmongoc's message about one server: "<cause> calling hello on 'host:port'".
struct ServerFailure {
  std::string_view cause;
  std::string_view server;  // empty when the message does not name it
};

constexpr std::string_view kHandshakeFailed = "TLS handshake failed: ";
constexpr std::string_view kCallingHello = " calling hello on '";

// The first per-server failure whose text contains `marker`; libmongoc writes one
// "[... calling hello on 'host:port']" per server it tried.
std::optional<ServerFailure> find_failure(std::string_view message, std::string_view marker) {
  const auto at = message.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  const auto open = message.rfind('[', at);
  const auto close = message.find(']', at);
  const std::size_t begin = open == std::string_view::npos ? 0 : open + 1;
  std::string_view part = message.substr(
      begin, close == std::string_view::npos ? std::string_view::npos : close - begin);
  ServerFailure failure{part, {}};
  if (const auto hello = part.find(kCallingHello); hello != std::string_view::npos) {
    failure.cause = part.substr(0, hello);
    std::string_view server = part.substr(hello + kCallingHello.size());
    failure.server = server.substr(0, server.find('\''));
  }
  return failure;
}

// "certificate verify failed (20): unable to get local issuer certificate" → 20.
std::optional<long> verify_code(std::string_view cause) {
  constexpr std::string_view kVerifyFailed = "certificate verify failed (";
  const auto at = cause.find(kVerifyFailed);
  if (at == std::string_view::npos) return std::nullopt;
  const char* first = cause.data() + at + kVerifyFailed.size();
  long code = 0;
  const auto [end, status] = std::from_chars(first, cause.data() + cause.size(), code);
  if (status != std::errc{} || end == cause.data() + cause.size() || *end != ')') {
    return std::nullopt;
  }
  return code;
}

std::string option_in_url(std::string_view option) {
  return fmt::format("{}'s {}", setting::kMongodbUrl, option);
}

// Where the CA comes from, for advice: "MONGODB_URL's tlsCAFile (now /etc/ca.pem)".
std::string ca_setting(const UriTls& tls) {
  if (tls.ca_file.empty()) {
    return fmt::format("{} (none is named, so the system trust store is used)",
                       option_in_url("tlsCAFile"));
  }
  return fmt::format("{} (now {})", option_in_url("tlsCAFile"), tls.ca_file);
}

std::string file_problem(std::string_view option, const std::string& path,
                         const std::optional<std::string>& problem, std::string_view expected) {
  if (!problem) return {};
  return fmt::format("its {} {}: {}; {} must name {}", option, path, *problem, option, expected);
}

std::optional<std::string> ca_file_problem(const std::string& path) {
  std::error_code ignored;
  if (std::filesystem::is_directory(path, ignored)) {
    return "it is a directory (libmongoc reads one file, not a directory of CAs)";
  }
  return poolkit::detail::certificate_file_problem(path);
}

// MongoDB wants the certificate and its key in one PEM file. An encrypted key is read with
// tlsCertificateKeyFilePassword by libmongoc alone: only the certificate is checked then.
std::optional<std::string> certificate_key_file_problem(const std::string& path,
                                                        bool key_is_encrypted) {
  if (auto problem = poolkit::detail::certificate_file_problem(path)) return problem;
  if (key_is_encrypted) return std::nullopt;
  if (auto problem = poolkit::detail::private_key_file_problem(path)) return problem;
  return poolkit::detail::key_mismatch_problem(path, path);
}

// The words of the other layers' warnings (settings_load.cpp), for an option of the URL.
std::string verification_off_warning(std::string_view option, std::string_view what_is_off,
                                     std::string_view consequence) {
  return fmt::format(
      "{} sets {}=true: {} verification is off: {}. Use it only for testing; name the server's "
      "CA in tlsCAFile instead",
      setting::kMongodbUrl, option, what_is_off, consequence);
}

// The CA files of `dir` under OpenSSL's hashed names (8 hex digits, a dot, a number: `openssl
// rehash`, Debian's update-ca-certificates): only those can OpenSSL find by issuer.
std::size_t hashed_names_in(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::directory_iterator entries(dir, error);
  if (error) return 0;
  constexpr int kEntriesLookedAt = 20'000;  // a system store holds a few hundred
  int looked_at = 0;
  std::size_t hashed = 0;
  const auto is_hex = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
  const auto is_digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  for (const auto& entry : entries) {
    if (++looked_at > kEntriesLookedAt) break;
    const std::string name = entry.path().filename().string();
    if (name.size() < 10 || name[8] != '.') continue;
    if (std::all_of(name.begin(), name.begin() + 8, is_hex) &&
        std::all_of(name.begin() + 9, name.end(), is_digit)) {
      ++hashed;
    }
  }
  return hashed;
}

// Certificates in a PEM bundle, counted by their first lines (nothing is parsed).
std::size_t certificates_in(const std::filesystem::path& bundle) {
  std::ifstream in(bundle);
  std::string line;
  std::size_t count = 0;
  while (std::getline(in, line)) {
    if (line.starts_with("-----BEGIN CERTIFICATE-----")) ++count;
  }
  return count;
}

// OpenSSL's and the system's words for a connection that went away mid-handshake.
bool is_connection_lost(std::string_view cause) {
  std::string lowered(cause);
  std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const std::string_view lost :
       {"eof", "reset", "broken pipe", "timed out", "timeout", "refused", "closed"}) {
    if (lowered.find(lost) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::string system_ca_directory(const UriTls& tls) {
  if (!tls.enabled || !tls.ca_file.empty()) return {};
  // OpenSSL's default trust store: the bundle ($SSL_CERT_FILE or its default, loaded whole) and
  // the hashed directories ($SSL_CERT_DIR or its default, searched by issuer).
  const std::filesystem::path default_bundle = X509_get_default_cert_file();
  std::filesystem::path bundle = default_bundle;
  if (const char* file = std::getenv(X509_get_default_cert_file_env()); file != nullptr && *file) {
    std::error_code ignored;
    // A bundle of the user's own (not just the system's, named again) stays libmongoc's to load.
    if (!std::filesystem::equivalent(file, default_bundle, ignored)) return {};
    bundle = file;
  }
  const char* from_environment = std::getenv(X509_get_default_cert_dir_env());
  const std::string dirs = from_environment != nullptr && *from_environment
                               ? from_environment
                               : X509_get_default_cert_dir();
  // OpenSSL reads a list separated by ':'.
  std::size_t hashed = 0;
  std::string_view rest = dirs;
  while (!rest.empty()) {
    const auto colon = rest.find(':');
    hashed += hashed_names_in(std::string(rest.substr(0, colon)));
    rest = colon == std::string_view::npos ? std::string_view{} : rest.substr(colon + 1);
  }
  // The directories stand in for the bundle only when they can hold all of its CAs (on Debian
  // both come from update-ca-certificates); a CA appended to the bundle by hand keeps the bundle.
  if (hashed == 0 || hashed < certificates_in(bundle)) return {};
  return dirs;
}

void trust_system_ca_directory(mongoc_client_t* client, const mongoc_uri_t* uri, const UriTls& tls,
                               const std::string& directory) {
  if (directory.empty()) return;
  // The URI's TLS options as libmongoc reads them, with the directory in place of the default
  // trust store; the client copies every string.
  const std::string password = uri_text(uri, MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD);
  mongoc_ssl_opt_t options{};
  options.ca_dir = directory.c_str();
  options.pem_file = tls.certificate_key_file.empty() ? nullptr : tls.certificate_key_file.c_str();
  options.pem_pwd = password.empty() ? nullptr : password.c_str();
  options.weak_cert_validation = tls.allow_invalid_certificates;
  options.allow_invalid_hostname = tls.allow_invalid_hostnames;
  mongoc_client_set_ssl_opts(client, &options);
}

bool is_closed_while_connecting(const bson_error_t& error) {
  const std::string_view message = error.message;
  if (message.find(kCallingHello) == std::string_view::npos) return false;
  // libmongoc's words vary with the moment the server's alert and close arrive (a reset after
  // the alert reads as "connection refused").
  for (const std::string_view closed :
       {"connection closed", "connection refused", "Failed to receive length header",
        "Server closed connection"}) {
    if (message.find(closed) != std::string_view::npos) return true;
  }
  return false;
}

std::string tls_mismatch_hint(const bson_error_t& error, const UriTls& tls) {
  const std::string_view message = error.message;
  if (message.find(kCallingHello) == std::string_view::npos) return {};
  if (!tls.enabled && message.find("Server closed connection") != std::string_view::npos) {
    return fmt::format(
        "; the server closed the connection at the first message: if it speaks TLS on that port, "
        "add tls=true to {}",
        setting::kMongodbUrl);
  }
  if (tls.enabled && (message.find("socket timeout") != std::string_view::npos ||
                      message.find(kHandshakeFailed) != std::string_view::npos)) {
    return fmt::format(
        "; the TLS handshake did not complete: if the server does not speak TLS on that port, "
        "use its TLS port or remove tls=true from {}",
        setting::kMongodbUrl);
  }
  return {};
}

std::string uri_tls_file_problem(const mongoc_uri_t* uri) {
  const UriTls tls = tls_options_of(uri);
  if (!tls.ca_file.empty()) {
    std::string problem = file_problem("tlsCAFile", tls.ca_file, ca_file_problem(tls.ca_file),
                                       "a PEM file of CA certificates");
    if (!problem.empty()) return problem;
  }
  if (!tls.certificate_key_file.empty()) {
    const bool encrypted = !uri_text(uri, MONGOC_URI_TLSCERTIFICATEKEYFILEPASSWORD).empty();
    return file_problem("tlsCertificateKeyFile", tls.certificate_key_file,
                        certificate_key_file_problem(tls.certificate_key_file, encrypted),
                        "one PEM file holding the client's certificate and its private key");
  }
  return {};
}

std::vector<std::string> uri_tls_warnings(const mongoc_uri_t* uri) {
  std::vector<std::string> warnings;
  if (uri_bool(uri, MONGOC_URI_TLSINSECURE)) {
    warnings.push_back(verification_off_warning(
        "tlsInsecure", "certificate and hostname",
        "any server, or anyone between this host and it, is accepted as the server"));
  }
  if (uri_bool(uri, MONGOC_URI_TLSALLOWINVALIDCERTIFICATES)) {
    warnings.push_back(verification_off_warning(
        "tlsAllowInvalidCertificates", "certificate",
        "any server, or anyone between this host and it, is accepted as the server"));
  }
  if (uri_bool(uri, MONGOC_URI_TLSALLOWINVALIDHOSTNAMES)) {
    warnings.push_back(
        verification_off_warning("tlsAllowInvalidHostnames", "hostname",
                                 "a certificate made out for any other name is accepted"));
  }
  return warnings;
}

UriTls tls_options_of(const mongoc_uri_t* uri) {
  UriTls tls;
  tls.enabled = mongoc_uri_get_tls(uri);
  tls.ca_file = uri_text(uri, MONGOC_URI_TLSCAFILE);
  tls.certificate_key_file = uri_text(uri, MONGOC_URI_TLSCERTIFICATEKEYFILE);
  const bool insecure = uri_bool(uri, MONGOC_URI_TLSINSECURE);
  tls.allow_invalid_certificates =
      insecure || uri_bool(uri, MONGOC_URI_TLSALLOWINVALIDCERTIFICATES);
  tls.allow_invalid_hostnames = insecure || uri_bool(uri, MONGOC_URI_TLSALLOWINVALIDHOSTNAMES);
  return tls;
}

std::optional<TlsFailure> tls_failure(const bson_error_t& error, const UriTls& tls) {
  if (!tls.enabled) return std::nullopt;
  const std::string_view message = error.message;
  if (const auto failure = find_failure(message, kHandshakeFailed)) {
    std::string_view cause = failure->cause;
    if (const auto at = cause.find(kHandshakeFailed); at != std::string_view::npos) {
      cause.remove_prefix(at + kHandshakeFailed.size());
    }
    if (const auto code = verify_code(cause)) {
      return TlsFailure{
          std::string(failure->server), poolkit::detail::verify_result_in_words(*code),
          poolkit::detail::verify_result_advice(
              *code, ca_setting(tls),
              fmt::format("tlsAllowInvalidHostnames=true in {}", setting::kMongodbUrl)),
          /*retryable=*/false};
    }
    // A handshake cut short (the server restarting, a reset) is a lost connection, not TLS.
    if (is_connection_lost(cause)) return std::nullopt;
    return TlsFailure{std::string(failure->server), fmt::format("handshake failure ({})", cause),
                      fmt::format("check that the server speaks TLS on that port and accepts "
                                  "the TLS options of {}",
                                  setting::kMongodbUrl),
                      /*retryable=*/false};
  }
  return std::nullopt;
}

}  // namespace poolkit::mongo::detail
