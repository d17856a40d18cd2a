#pragma once
// A throw-away certificate authority, made when a test (or the demo) starts and deleted with its
// scratch folder: nothing is committed that can expire or leak. Keys are P-256 (fast to make);
// every file is PEM.

#include <filesystem>
#include <string>

#include "local_servers/process.hpp"

namespace poolkit::local {

struct TlsFiles {
  std::filesystem::path cert;
  std::filesystem::path key;
  // cert followed by key in one file, as MongoDB's tlsCertificateKeyFile wants it.
  std::filesystem::path combined;
};

class TestCa {
 public:
  TestCa();

  // The CA that signs every certificate below but other_ca_server().
  std::filesystem::path ca_file() const { return dir_.path() / "ca.pem"; }
  // An unrelated CA, and a server certificate for 127.0.0.1/localhost signed by it.
  std::filesystem::path other_ca_file() const { return dir_.path() / "other-ca.pem"; }
  const TlsFiles& other_ca_server() const noexcept { return other_ca_server_; }

  // For 127.0.0.1, ::1 and localhost (subject alternative names), valid for a day.
  const TlsFiles& server() const noexcept { return server_; }
  // For other.invalid only: a hostname mismatch when reached as 127.0.0.1.
  const TlsFiles& wrong_name_server() const noexcept { return wrong_name_server_; }
  // For 127.0.0.1/localhost, but expired yesterday.
  const TlsFiles& expired_server() const noexcept { return expired_server_; }
  // A client certificate (extended key usage clientAuth) for mutual TLS.
  const TlsFiles& client() const noexcept { return client_; }

  std::filesystem::path dir() const { return dir_.path(); }

  // One CA per process is enough for tests: made on first use.
  static const TestCa& shared();

 private:
  TempDir dir_{"poolkit-ca"};
  TlsFiles server_;
  TlsFiles wrong_name_server_;
  TlsFiles expired_server_;
  TlsFiles client_;
  TlsFiles other_ca_server_;
};

}  // namespace poolkit::local
