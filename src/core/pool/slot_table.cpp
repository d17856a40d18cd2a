#include "slot_table.hpp"

namespace poolkit::detail {

void SlotTable::count(PoolStats& stats) const noexcept {
  const std::size_t used = this->used();
  for (std::size_t i = 0; i < used; ++i) {
    const SlotState state = slots_[i].state.load(std::memory_order_relaxed);
    if (state == SlotState::in_use) ++stats.in_use;
    if (state == SlotState::idle || state == SlotState::reserved) ++stats.idle;
    stats.checkouts += slots_[i].checkouts.load(std::memory_order_relaxed);
  }
}

// The lease's view of its slot (see pool.hpp): not on the hot path.
std::uint64_t connection_id(const Slot& slot) noexcept {
  return slot.id.load(std::memory_order_relaxed);
}

void mark_broken(Slot& slot) noexcept {
  slot.broken = true;
}

}  // namespace poolkit::detail
