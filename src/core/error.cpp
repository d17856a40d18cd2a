#include "poolkit/error.hpp"

namespace poolkit {

std::string_view to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::config:
      return "config";
    case ErrorCode::pool_timeout:
      return "pool_timeout";
    case ErrorCode::pool_closed:
      return "pool_closed";
    case ErrorCode::pool_cleared:
      return "pool_cleared";
    case ErrorCode::connect:
      return "connect";
    case ErrorCode::tls:
      return "tls";
    case ErrorCode::timeout:
      return "timeout";
    case ErrorCode::protocol:
      return "protocol";
    case ErrorCode::server:
      return "server";
    case ErrorCode::circuit_open:
      return "circuit_open";
  }
  return "unknown";
}

std::string_view to_string(Backend backend) noexcept {
  switch (backend) {
    case Backend::core:
      return "core";
    case Backend::redis:
      return "redis";
    case Backend::mongo:
      return "mongo";
    case Backend::http:
      return "http";
  }
  return "unknown";
}

}  // namespace poolkit
