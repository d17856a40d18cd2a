// Opening connections: for a caller that was granted permission to open (slot `opening`), and
// for the maintenance task's warm minimum.

#include <fmt/format.h>

#include "pool_core.hpp"

namespace poolkit::detail {

// Opens the connection of a slot in state `opening`. Returns the connector's error (the
// slot is then freed), or null.
std::exception_ptr PoolCore::establish(Slot* slot) noexcept {
  const std::uint64_t id = slot->id.load(std::memory_order_relaxed);
  events_.emit({.type = PoolEventType::connection_created, .connection_id = id});
  const auto open_started = Clock::now();
  std::exception_ptr failure;
  try {
    slot->box = driver_->open(open_started + options_.connect_timeout);
  } catch (const std::exception& error) {
    failure = std::current_exception();
    note_connect_error(error.what());
  } catch (...) {
    failure = std::current_exception();
    note_connect_error("unknown error");
  }
  if (failure) {
    (void)retire(slot, CloseReason::error);  // the caller holds the pool: never the last
    return failure;
  }
  const std::int64_t now_ns = coarse_now_ns();
  slot->broken = false;
  slot->last_used_ns = now_ns;
  if (slot->expires_ns != 0) slot->expires_ns += now_ns;  // held the jittered lifetime
  counters_.connection_created();
  events_.emit({.type = PoolEventType::connection_ready,
                .connection_id = id,
                .duration = Clock::now() - open_started});
  Wakeups wakeups;
  {
    std::lock_guard lock(mutex_);
    --connecting_;
    dispatch_locked(wakeups);  // a max_connecting permit is free again
  }
  wakeups.post_all();
  return nullptr;
}

void PoolCore::note_connect_error(const char* what) noexcept {
  std::lock_guard lock(mutex_);
  try {
    last_connect_error_ = what;
    last_connect_failure_ = Clock::now();
  } catch (...) {  // out of memory: keep the previous cause rather than fail the caller
  }
}

CheckedOut PoolCore::open_for_caller(Slot* slot, Clock::time_point started) {
  if (const std::exception_ptr failure = establish(slot)) {
    emit_checkout_failed(CheckOutFailure::connection_error, started);
    try {
      std::rethrow_exception(failure);
    } catch (const Error&) {
      throw;  // the connector's own type (ConnectError, TimeoutError...) reaches the caller
    } catch (const std::exception& error) {
      throw ConnectError(options_.backend,
                         fmt::format("{} pool ({}): could not open a connection: {}", options_.name,
                                     options_.address, error.what()));
    } catch (...) {
      throw ConnectError(options_.backend,
                         fmt::format("{} pool ({}): could not open a connection: unknown error",
                                     options_.name, options_.address));
    }
  }
  if (state_.load(std::memory_order_acquire) == PoolState::closed) {
    (void)retire(slot, CloseReason::pool_closed);
    emit_checkout_failed(CheckOutFailure::pool_closed, started);
    throw PoolClosedError(options_.backend,
                          fmt::format("{} pool ({}) was closed while a connection was opening",
                                      options_.name, options_.address));
  }
  slot->state.store(SlotState::in_use, std::memory_order_relaxed);
  return hand_out(slot, coarse_now_ns(), started);
}

}  // namespace poolkit::detail
