#include "poolkit/pool_events.hpp"

#include "poolkit/pool_stats.hpp"

namespace poolkit {

std::string_view cmap_name(PoolEventType type) noexcept {
  switch (type) {
    case PoolEventType::pool_created:
      return "ConnectionPoolCreated";
    case PoolEventType::pool_ready:
      return "ConnectionPoolReady";
    case PoolEventType::pool_cleared:
      return "ConnectionPoolCleared";
    case PoolEventType::pool_closed:
      return "ConnectionPoolClosed";
    case PoolEventType::connection_created:
      return "ConnectionCreated";
    case PoolEventType::connection_ready:
      return "ConnectionReady";
    case PoolEventType::connection_closed:
      return "ConnectionClosed";
    case PoolEventType::check_out_started:
      return "ConnectionCheckOutStarted";
    case PoolEventType::check_out_failed:
      return "ConnectionCheckOutFailed";
    case PoolEventType::checked_out:
      return "ConnectionCheckedOut";
    case PoolEventType::checked_in:
      return "ConnectionCheckedIn";
    case PoolEventType::lease_leaked:
      return "ConnectionLeaseLeaked";
  }
  return "Unknown";
}

std::string_view cmap_name(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::stale:
      return "stale";
    case CloseReason::idle:
      return "idle";
    case CloseReason::error:
      return "error";
    case CloseReason::pool_closed:
      return "poolClosed";
    case CloseReason::expired:
      return "expired";
  }
  return "unknown";
}

std::string_view cmap_name(CheckOutFailure failure) noexcept {
  switch (failure) {
    case CheckOutFailure::pool_closed:
      return "poolClosed";
    case CheckOutFailure::timeout:
      return "timeout";
    case CheckOutFailure::connection_error:
      return "connectionError";
  }
  return "unknown";
}

std::string_view to_string(CloseReason reason) noexcept {
  switch (reason) {
    case CloseReason::stale:
      return "stale";
    case CloseReason::idle:
      return "idle";
    case CloseReason::error:
      return "error";
    case CloseReason::pool_closed:
      return "pool_closed";
    case CloseReason::expired:
      return "expired";
  }
  return "unknown";
}

std::string_view to_string(CheckOutFailure failure) noexcept {
  switch (failure) {
    case CheckOutFailure::pool_closed:
      return "pool_closed";
    case CheckOutFailure::timeout:
      return "timeout";
    case CheckOutFailure::connection_error:
      return "connection_error";
  }
  return "unknown";
}

std::string_view to_string(PoolState state) noexcept {
  switch (state) {
    case PoolState::paused:
      return "paused";
    case PoolState::ready:
      return "ready";
    case PoolState::closed:
      return "closed";
  }
  return "unknown";
}

}  // namespace poolkit
