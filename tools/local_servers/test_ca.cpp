#include "local_servers/test_ca.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace poolkit::local {
namespace {

constexpr long kDaySeconds = 86'400;

struct KeyFree {
  void operator()(EVP_PKEY* key) const noexcept { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const noexcept { X509_free(cert); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

void require(bool ok, std::string_view what) {
  if (!ok) throw std::runtime_error("test CA: " + std::string(what) + " failed");
}

KeyPtr new_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  require(key != nullptr, "EC key generation");
  return key;
}

// What one certificate is: its name, its validity window relative to now, what it may do.
struct CertificateSpec {
  std::string common_name{};
  std::string subject_alt_names{};  // "IP:127.0.0.1,DNS:localhost"; empty: none
  long not_before_seconds = -3600;
  long not_after_seconds = kDaySeconds;
  bool is_ca = false;
  std::string extended_key_usage{};  // "serverAuth", "clientAuth"; empty for a CA
};

void add_extension(X509* cert, X509V3_CTX* context, int nid, const std::string& value) {
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, context, nid, value.c_str());
  require(extension != nullptr, "certificate extension");
  X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
}

void set_random_serial(X509* cert) {
  unsigned char bytes[16];
  require(RAND_bytes(bytes, sizeof bytes) == 1, "random serial");
  bytes[0] &= 0x7F;  // a positive serial
  BIGNUM* number = BN_bin2bn(bytes, sizeof bytes, nullptr);
  require(number != nullptr && BN_to_ASN1_INTEGER(number, X509_get_serialNumber(cert)) != nullptr,
          "serial");
  BN_free(number);
}

// Signed by `issuer` (with `issuer_key`), or by itself when issuer is null.
X509Ptr make_certificate(const CertificateSpec& spec, EVP_PKEY* key, X509* issuer,
                         EVP_PKEY* issuer_key) {
  X509Ptr cert(X509_new());
  require(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  set_random_serial(cert.get());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before_seconds);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after_seconds);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("poolkit tests"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1,
                             -1, 0);
  X509* signer = issuer != nullptr ? issuer : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(signer));

  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, signer, cert.get(), nullptr, nullptr, 0);
  add_extension(cert.get(), &context, NID_basic_constraints,
                spec.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  add_extension(cert.get(), &context, NID_key_usage,
                spec.is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
  add_extension(cert.get(), &context, NID_subject_key_identifier, "hash");
  if (issuer != nullptr) add_extension(cert.get(), &context, NID_authority_key_identifier, "keyid");
  if (!spec.extended_key_usage.empty())
    add_extension(cert.get(), &context, NID_ext_key_usage, spec.extended_key_usage);
  if (!spec.subject_alt_names.empty())
    add_extension(cert.get(), &context, NID_subject_alt_name, spec.subject_alt_names);

  require(X509_sign(cert.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256()) > 0,
          "signing");
  return cert;
}

// Writes with `write` into a new file at `path`.
template <class Write>
void write_pem(const std::filesystem::path& path, Write write, bool append = false) {
  std::FILE* file = std::fopen(path.c_str(), append ? "ab" : "wb");
  require(file != nullptr, "opening " + path.string());
  const bool ok = write(file);
  std::fclose(file);
  require(ok, "writing " + path.string());
}

void write_certificate(const std::filesystem::path& path, X509* cert, bool append = false) {
  write_pem(
      path, [cert](std::FILE* f) { return PEM_write_X509(f, cert) == 1; }, append);
}

void write_key(const std::filesystem::path& path, EVP_PKEY* key, bool append = false) {
  write_pem(
      path,
      [key](std::FILE* f) {
        return PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
      },
      append);
  std::filesystem::permissions(
      path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
}

struct Authority {
  KeyPtr key;
  X509Ptr cert;
};

Authority make_authority(const std::string& name, const std::filesystem::path& file) {
  Authority authority{new_key(), nullptr};
  authority.cert =
      make_certificate({.common_name = name, .is_ca = true}, authority.key.get(), nullptr, nullptr);
  write_certificate(file, authority.cert.get());
  return authority;
}

TlsFiles issue(const Authority& authority, const CertificateSpec& spec,
               const std::filesystem::path& dir, const std::string& stem) {
  const KeyPtr key = new_key();
  const X509Ptr cert = make_certificate(spec, key.get(), authority.cert.get(), authority.key.get());
  TlsFiles files{dir / (stem + ".crt"), dir / (stem + ".key"), dir / (stem + ".pem")};
  write_certificate(files.cert, cert.get());
  write_key(files.key, key.get());
  write_certificate(files.combined, cert.get());
  write_key(files.combined, key.get(), true);
  return files;
}

constexpr std::string_view kLoopbackNames = "IP:127.0.0.1,IP:::1,DNS:localhost";

CertificateSpec server_spec(std::string name, std::string alt_names) {
  return {.common_name = std::move(name),
          .subject_alt_names = std::move(alt_names),
          .extended_key_usage = "serverAuth"};
}

}  // namespace

TestCa::TestCa() {
  const std::filesystem::path dir = dir_.path();
  const Authority ca = make_authority("poolkit test CA", ca_file());
  const Authority other = make_authority("poolkit unrelated CA", other_ca_file());
  server_ = issue(ca, server_spec("localhost", std::string(kLoopbackNames)), dir, "server");
  wrong_name_server_ =
      issue(ca, server_spec("other.invalid", "DNS:other.invalid"), dir, "wrong-name");
  CertificateSpec expired = server_spec("localhost", std::string(kLoopbackNames));
  expired.not_before_seconds = -3 * kDaySeconds;
  expired.not_after_seconds = -kDaySeconds;
  expired_server_ = issue(ca, expired, dir, "expired");
  client_ = issue(ca, {.common_name = "poolkit test client", .extended_key_usage = "clientAuth"},
                  dir, "client");
  other_ca_server_ =
      issue(other, server_spec("localhost", std::string(kLoopbackNames)), dir, "other-ca-server");
}

const TestCa& TestCa::shared() {
  static const TestCa ca;
  return ca;
}

}  // namespace poolkit::local
