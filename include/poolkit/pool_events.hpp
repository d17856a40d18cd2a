#pragma once
// Pool events, named as in MongoDB's Connection Monitoring and Pooling specification, so
// anything that understands CMAP events understands poolkit's.

#include <chrono>
#include <cstdint>
#include <string_view>

namespace poolkit {

struct PoolOptions;

enum class PoolEventType {
  pool_created,
  pool_ready,
  pool_cleared,
  pool_closed,
  connection_created,
  connection_ready,
  connection_closed,
  check_out_started,
  check_out_failed,
  checked_out,
  checked_in,
  lease_leaked,  // not in CMAP: a lease held past PoolOptions::leak_threshold
};

enum class CloseReason { stale, idle, error, pool_closed, expired };
inline constexpr std::size_t kCloseReasonCount = 5;

enum class CheckOutFailure { pool_closed, timeout, connection_error };
inline constexpr std::size_t kCheckOutFailureCount = 3;

struct PoolEvent {
  PoolEventType type = PoolEventType::pool_created;
  std::string_view pool_name{};
  std::string_view address{};
  std::uint64_t connection_id = 0;
  CloseReason close_reason = CloseReason::error;
  CheckOutFailure failure = CheckOutFailure::connection_error;
  // Time to open (connection_ready), to check out (checked_out, check_out_failed), or how
  // long the lease has been held (lease_leaked).
  std::chrono::nanoseconds duration{0};
  bool interrupt_in_use = false;         // pool_cleared
  const PoolOptions* options = nullptr;  // pool_created
};

// Receives every event of a pool. Called on the thread that caused the event, sometimes
// with the pool's lock released but never while it is held; keep it quick.
class PoolListener {
 public:
  virtual ~PoolListener() = default;
  virtual void on_event(const PoolEvent& event) noexcept = 0;
};

// CMAP names: "ConnectionPoolCreated", "ConnectionCheckedOut", "poolClosed", ...
std::string_view cmap_name(PoolEventType type) noexcept;
std::string_view cmap_name(CloseReason reason) noexcept;
std::string_view cmap_name(CheckOutFailure failure) noexcept;
// snake_case names for metrics: "stale", "pool_closed", "connection_error", ...
std::string_view to_string(CloseReason reason) noexcept;
std::string_view to_string(CheckOutFailure failure) noexcept;

}  // namespace poolkit
