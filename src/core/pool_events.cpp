#include "poolkit/pool_events.hpp"

#include <array>

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

namespace {

// CMAP's camelCase name and the snake_case name used in metrics, indexed by the enum.
struct Names {
  std::string_view cmap;
  std::string_view snake;
};
constexpr std::array<Names, kCloseReasonCount> kCloseReasonNames{{
    {"stale", "stale"},
    {"idle", "idle"},
    {"error", "error"},
    {"poolClosed", "pool_closed"},
    {"expired", "expired"},
}};
constexpr std::array<Names, kCheckOutFailureCount> kCheckOutFailureNames{{
    {"poolClosed", "pool_closed"},
    {"timeout", "timeout"},
    {"connectionError", "connection_error"},
}};

template <class Enum, std::size_t N>
const Names& names_of(const std::array<Names, N>& table, Enum value) noexcept {
  return table[static_cast<std::size_t>(value)];
}

}  // namespace

std::string_view cmap_name(CloseReason reason) noexcept {
  return names_of(kCloseReasonNames, reason).cmap;
}
std::string_view cmap_name(CheckOutFailure failure) noexcept {
  return names_of(kCheckOutFailureNames, failure).cmap;
}
std::string_view to_string(CloseReason reason) noexcept {
  return names_of(kCloseReasonNames, reason).snake;
}
std::string_view to_string(CheckOutFailure failure) noexcept {
  return names_of(kCheckOutFailureNames, failure).snake;
}

}  // namespace poolkit
