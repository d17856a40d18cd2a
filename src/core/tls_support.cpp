#include "tls_support.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "openssl_ptr.hpp"
#include "poolkit/error.hpp"

namespace poolkit::detail {
namespace {

// An encrypted key must never make OpenSSL prompt on the terminal: no password is given.
int no_password(char* /*buffer*/, int /*size*/, int /*rwflag*/, void* /*user*/) {
  return -1;
}

// Opens a regular, readable file; or says why it cannot.
std::optional<std::string> file_problem(const std::string& path, BioPtr& bio) {
  if (path.empty()) return "the path is empty";
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) return "no such file";
  if (std::filesystem::is_directory(status)) return "is a directory, expected a PEM file";
  // A fifo, a terminal or /dev/stdin would block the open or the read; /dev/zero never ends.
  if (!std::filesystem::is_regular_file(status)) return "is not a regular file";
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return fmt::format("not readable: {}", std::strerror(errno));
  bio.reset(BIO_new_fp(file, BIO_CLOSE));
  if (!bio) {
    std::fclose(file);
    return "could not be opened";
  }
  return std::nullopt;
}

X509Ptr read_certificate(BIO* bio) {
  return X509Ptr(PEM_read_bio_X509(bio, nullptr, no_password, nullptr));
}

EvpKeyPtr read_private_key(BIO* bio) {
  return EvpKeyPtr(PEM_read_bio_PrivateKey(bio, nullptr, no_password, nullptr));
}

}  // namespace

std::optional<std::string> certificate_file_problem(const std::string& path) {
  BioPtr bio;
  if (auto problem = file_problem(path, bio)) return problem;
  const X509Ptr cert = read_certificate(bio.get());
  ERR_clear_error();
  if (!cert) return "holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)";
  return std::nullopt;
}

std::optional<std::string> private_key_file_problem(const std::string& path) {
  BioPtr bio;
  if (auto problem = file_problem(path, bio)) return problem;
  const EvpKeyPtr key = read_private_key(bio.get());
  ERR_clear_error();
  if (!key) return "holds no unencrypted PEM private key (expected -----BEGIN PRIVATE KEY-----)";
  return std::nullopt;
}

std::optional<std::string> ca_location_problem(const std::string& path) {
  std::error_code ec;
  if (!path.empty() && std::filesystem::is_directory(path, ec)) {
    std::filesystem::directory_iterator it(path, ec);
    if (ec) return fmt::format("directory not readable: {}", ec.message());
    return std::nullopt;
  }
  return certificate_file_problem(path);
}

std::optional<std::string> key_mismatch_problem(const std::string& cert_path,
                                                const std::string& key_path) {
  BioPtr cert_bio;
  BioPtr key_bio;
  if (file_problem(cert_path, cert_bio) || file_problem(key_path, key_bio)) return std::nullopt;
  const X509Ptr cert = read_certificate(cert_bio.get());
  const EvpKeyPtr key = read_private_key(key_bio.get());
  if (!cert || !key) {
    ERR_clear_error();
    return std::nullopt;  // reported by the checks of each file
  }
  const bool matches = X509_check_private_key(cert.get(), key.get()) == 1;
  ERR_clear_error();
  if (!matches) return "the private key does not belong to the certificate";
  return std::nullopt;
}

void require_usable_tls_files(const TlsOptions& tls, const TlsFileNames& names) {
  const auto require = [](std::string_view name, const std::string& path, auto problem_of,
                          std::string_view expected) {
    if (auto problem = problem_of(path)) {
      throw ConfigError(fmt::format("{}={:?}: {}; expected {}", name, path, *problem, expected));
    }
  };
  if (tls.ca_file) {
    require(tls.ca_source.empty() ? names.ca : tls.ca_source, *tls.ca_file, ca_location_problem,
            "a readable PEM file of CA certificates, or a CA directory");
  }
  if (tls.key_file && !tls.cert_file) {
    throw ConfigError(
        fmt::format("{} is set but {} is not: a private key is only used with its "
                    "certificate",
                    names.key, names.cert));
  }
  if (!tls.cert_file) return;
  require(names.cert, *tls.cert_file, certificate_file_problem,
          "a readable PEM file holding a certificate");
  const std::string& key = tls.key_file ? *tls.key_file : *tls.cert_file;
  require(tls.key_file ? names.key : names.cert, key, private_key_file_problem,
          tls.key_file ? "a readable PEM file holding an unencrypted private key"
                       : "the certificate's file to hold its private key too, or a key file");
  if (auto mismatch = key_mismatch_problem(*tls.cert_file, key)) {
    throw ConfigError(fmt::format("{}={:?} and {}={:?}: {}; expected the key of that certificate",
                                  names.cert, *tls.cert_file, names.key, key, *mismatch));
  }
}

std::string verify_result_in_words(long x509_verify_result) {
  switch (x509_verify_result) {
    case X509_V_OK:
      return "certificate accepted";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      return "unknown issuer";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      return "self-signed certificate";
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return "certificate expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return "certificate not yet valid";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
      return "hostname mismatch";
    case X509_V_ERR_CERT_REVOKED:
      return "certificate revoked";
    case X509_V_ERR_INVALID_PURPOSE:
      return "certificate not meant for a TLS server";
    default:
      return fmt::format("certificate refused: {}",
                         X509_verify_cert_error_string(x509_verify_result));
  }
}

std::string verify_result_advice(long x509_verify_result, std::string_view ca_setting,
                                 std::string_view hostname_setting) {
  const std::string words = verify_result_in_words(x509_verify_result);
  if (words == "unknown issuer" || words == "self-signed certificate")
    return fmt::format(
        "the server's certificate is not signed by a CA this client trusts; name the CA that "
        "signs it in {}",
        ca_setting);
  if (words == "hostname mismatch")
    return fmt::format(
        "the certificate does not hold the name or address connected to; connect by a name it "
        "holds, or (only for testing) turn the check off with {}",
        hostname_setting);
  if (words == "certificate expired" || words == "certificate not yet valid")
    return "the server needs a current certificate (or this machine's clock is wrong)";
  return fmt::format("check the server's certificate and {}", ca_setting);
}

std::string drain_openssl_errors() {
  const unsigned long first = ERR_get_error();
  ERR_clear_error();
  if (first == 0) return {};
  char text[256];
  ERR_error_string_n(first, text, sizeof text);
  const char* reason = ERR_reason_error_string(first);
  return reason != nullptr ? std::string(reason) : std::string(text);
}

}  // namespace poolkit::detail
