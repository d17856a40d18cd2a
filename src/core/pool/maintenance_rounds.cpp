// What the maintenance thread (maintenance.hpp) does each round: close idle, stale and
// expired connections, report leaked leases, and open connections up to the pool's minimum.

#include "pool_core.hpp"

namespace poolkit::detail {

void PoolCore::maintenance_round() {
  reap_idle();
  report_leaks();
  fill_to_minimum();
}

void PoolCore::reap_idle() {
  const std::int64_t now_ns = coarse_now_ns();
  const std::size_t used = slots_.used();
  for (std::size_t i = 0; i < used; ++i) {
    Slot* slot = &slots_[i];
    if (!take_idle(*slot, SlotState::reserved)) continue;
    // The maintenance task runs only while the owner is there: never the last reference.
    if (const auto reason = perished(*slot, now_ns)) {
      (void)retire(slot, *reason);
    } else {
      (void)make_available(slot);
    }
  }
}

void PoolCore::report_leaks() {
  if (options_.leak_threshold.count() <= 0) return;
  const std::int64_t now_ns = coarse_now_ns();
  const std::size_t used = slots_.used();
  for (std::size_t i = 0; i < used; ++i) {
    Slot& slot = slots_[i];
    // The lease may come back while we look: only report a check-out seen unchanged.
    const auto checkouts_before = slot.checkouts.load(std::memory_order_acquire);
    if (slot.state.load(std::memory_order_acquire) != SlotState::in_use) continue;
    const std::int64_t since = slot.checked_out_ns.load(std::memory_order_acquire);
    if (slot.state.load(std::memory_order_acquire) != SlotState::in_use ||
        slot.checkouts.load(std::memory_order_acquire) != checkouts_before) {
      continue;
    }
    const std::int64_t held_ns = now_ns - since;
    if (held_ns <= to_ns(options_.leak_threshold)) continue;
    if (slot.leak_reported_ns.exchange(since, std::memory_order_relaxed) == since) continue;
    counters_.leak_detected();
    events_.emit({.type = PoolEventType::lease_leaked,
                  .connection_id = slot.id.load(std::memory_order_relaxed),
                  .duration = std::chrono::nanoseconds(held_ns)});
  }
}

void PoolCore::fill_to_minimum() {
  while (true) {
    Slot* slot = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (maintenance_.stopping_locked() || total_ >= options_.min_size) return;
      slot = reserve_for_open_locked();
    }
    if (slot == nullptr) return;  // paused, or max_connecting reached
    if (establish(slot)) return;  // failed (server down?): try again at the next tick
    (void)make_available(slot);
  }
}

}  // namespace poolkit::detail
