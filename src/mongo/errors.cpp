// libmongoc errors → poolkit's error hierarchy.

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "mongo_detail.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::mongo::detail {
namespace {

// Server error codes a retry may get past (the retryable-reads/writes specifications' list).
constexpr std::array<std::uint32_t, 15> kRetryableServerCodes = {
    6, 7, 63, 89, 91, 134, 150, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436};

bool retryable_server_code(std::uint32_t code) {
  return std::find(kRetryableServerCodes.begin(), kRetryableServerCodes.end(), code) !=
         kRetryableServerCodes.end();
}

}  // namespace

Failure classify(const bson_error_t& error) noexcept {
  switch (error.domain) {
    case MONGOC_ERROR_SERVER_SELECTION:
      return Failure::connect;
    case MONGOC_ERROR_STREAM:
      return error.code == MONGOC_ERROR_STREAM_SOCKET ? Failure::network : Failure::connect;
    case MONGOC_ERROR_CLIENT:
      return error.code == MONGOC_ERROR_CLIENT_AUTHENTICATE ? Failure::authentication
                                                            : Failure::protocol;
    case MONGOC_ERROR_SASL:
    case MONGOC_ERROR_SCRAM:
      return Failure::authentication;
    case MONGOC_ERROR_SERVER:
    case MONGOC_ERROR_QUERY:
    case MONGOC_ERROR_WRITE_CONCERN:
    case MONGOC_ERROR_COLLECTION:
    case MONGOC_ERROR_TRANSACTION:
      return Failure::server;
    default:
      return Failure::protocol;
  }
}

void throw_tls_error(const TlsFailure& failure, std::string_view what, const ErrorContext& context,
                     const bson_error_t& error) {
  const std::string server = failure.server.empty() ? std::string(context.address) : failure.server;
  throw TlsError(Backend::mongo,
                 fmt::format("TLS to {} failed: {}; {} (MongoDB {}; libmongoc domain {}, code {})",
                             server, failure.cause, failure.advice, what, error.domain, error.code),
                 failure.retryable);
}

void throw_error(const bson_error_t& error, std::string_view what, const ErrorContext& context,
                 std::chrono::nanoseconds elapsed) {
  if (const auto tls = tls_failure(error, context.tls)) {
    throw_tls_error(*tls, what, context, error);
  }
  const std::string head =
      fmt::format("MongoDB {} at {} failed: {} (libmongoc domain {}, code {})", what,
                  context.address, error.message, error.domain, error.code);
  const std::chrono::milliseconds socket_timeout = context.socket_timeout;
  switch (classify(error)) {
    case Failure::connect:
      throw ConnectError(Backend::mongo,
                         head + tls_mismatch_hint(error, context.tls) +
                             fmt::format("; check that the server is up and reachable, or "
                                         "raise {} / {} if it is slow to answer",
                                         setting::kMongodbServerSelectionTimeoutMs,
                                         setting::kMongodbConnectTimeoutMs));
    case Failure::network:
      // libmongoc's poll may wake a little before the deadline it computed: 10% slack.
      if (elapsed >= socket_timeout - socket_timeout / 10) {
        throw TimeoutError(
            Backend::mongo,
            head + fmt::format("; no answer within {} ({} ms): raise it if the "
                               "operation is legitimately slow",
                               setting::kMongodbSocketTimeoutMs, socket_timeout.count()));
      }
      throw ConnectError(Backend::mongo,
                         head +
                             "; the connection was lost (server restarted or network "
                             "failure): it is closed, retry on a new one");
    case Failure::server:
      throw ServerError(Backend::mongo, head + "; the server refused the operation",
                        retryable_server_code(error.code));
    case Failure::authentication:
      throw ServerError(Backend::mongo,
                        head + fmt::format("; check the user name, password and authSource in {}",
                                           setting::kMongodbUrl));
    case Failure::protocol:
      break;
  }
  throw ProtocolError(Backend::mongo, head);
}

}  // namespace poolkit::mongo::detail
