// Fuzz target: reading libmongoc's error messages for TLS failures (src/mongo/uri_tls.cpp), the
// way throw_error does: the per-server parts of a server selection message ("[... calling hello
// on 'host:port']"), the X509 verification code in parentheses, and the hints for TLS on one
// side only.
//
// Input: byte 0 chooses the TLS options (bit 0: TLS on, bit 1: a tlsCAFile, bit 2: a client
// certificate); the rest is the message, cut to a bson_error_t's size as libmongoc cuts it.
//
// Invariants (a broken one traps, so libFuzzer saves the input):
// - Without TLS nothing is read as a TLS failure.
// - A TLS failure names a cause and what to do, and the server it names is part of the message.
// - A certificate failure (a verification code was found) is never retryable.
// - A hint is empty or a clause starting with "; ".
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

#include "mongo/mongo_detail.hpp"

namespace {

using poolkit::mongo::detail::UriTls;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "mongo_tls_error_fuzz: %s\n", what);
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  UriTls tls;
  tls.enabled = (data[0] & 1) != 0;
  if ((data[0] & 2) != 0) tls.ca_file = "/etc/poolkit/ca.pem";
  if ((data[0] & 4) != 0) tls.certificate_key_file = "/etc/poolkit/client.pem";

  bson_error_t error{};
  error.domain = MONGOC_ERROR_SERVER_SELECTION;
  error.code = MONGOC_ERROR_SERVER_SELECTION_FAILURE;
  const std::size_t length = std::min(size - 1, sizeof error.message - 1);
  std::memcpy(error.message, data + 1, length);
  error.message[length] = '\0';
  const std::string_view message = error.message;

  const auto failure = poolkit::mongo::detail::tls_failure(error, tls);
  if (!tls.enabled && failure) fail("a TLS failure without TLS");
  if (failure) {
    if (failure->cause.empty() || failure->advice.empty()) fail("a failure without words");
    if (message.find(failure->server) == std::string_view::npos)
      fail("a server not in the message");
    if (message.find("certificate verify failed (") != std::string_view::npos &&
        failure->cause.find("handshake failure") == std::string::npos && failure->retryable) {
      fail("a certificate failure marked retryable");
    }
  }
  const std::string hint = poolkit::mongo::detail::tls_mismatch_hint(error, tls);
  if (!hint.empty() && !hint.starts_with("; ")) fail("a hint that is not a clause");
  (void)poolkit::mongo::detail::is_closed_while_connecting(error);
  return 0;
}
