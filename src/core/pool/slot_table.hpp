#pragma once
// The pool's connections: a fixed array of slots, allocated once, and the lock-free moves
// out of `idle` that the hot path is made of.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "poolkit/detail/pool_engine.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit::detail {

enum class SlotState : std::uint32_t { empty, opening, idle, in_use, reserved };

struct alignas(64) Slot {
  std::atomic<SlotState> state{SlotState::empty};
  // Written only by whoever owns the slot (the lease holder, or the thread that moved it
  // out of `idle`); the state's acquire/release orders them.
  std::uint64_t generation = 0;
  std::int64_t expires_ns = 0;  // 0 = no lifetime limit
  std::int64_t last_used_ns = 0;
  bool broken = false;
  std::unique_ptr<ConnectionBox> box;
  // Also read by the maintenance task while someone else owns the slot.
  std::atomic<std::uint64_t> id{0};
  std::atomic<std::int64_t> checked_out_ns{0};
  std::atomic<std::int64_t> leak_reported_ns{0};  // the check-out already reported as leaked
  std::atomic<std::uint64_t> checkouts{0};
};

// Moves a slot out of `idle` if nobody else did first; the winner owns the slot. close()
// asks for seq_cst: its read must pair with check-in's seq_cst "store idle, read state".
template <std::memory_order order = std::memory_order_acquire>
bool take_idle(Slot& slot, SlotState to) noexcept {
  SlotState expected = SlotState::idle;
  constexpr auto peek = order == std::memory_order_seq_cst ? order : std::memory_order_relaxed;
  return slot.state.load(peek) == SlotState::idle &&
         slot.state.compare_exchange_strong(expected, to, order, peek);
}

// Owns the slots. Which slot may be opened is decided under the core's mutex (reserve_empty);
// everything else is lock-free on the slots' states.
class SlotTable {
 public:
  explicit SlotTable(std::size_t size) : slots_(std::make_unique<Slot[]>(size)), size_(size) {}

  std::size_t size() const noexcept { return size_; }
  Slot& operator[](std::size_t index) noexcept { return slots_[index]; }
  const Slot& operator[](std::size_t index) const noexcept { return slots_[index]; }
  std::size_t index_of(const Slot* slot) const noexcept {
    return static_cast<std::size_t>(slot - slots_.get());
  }
  // Slots at this index and beyond have never held a connection.
  std::size_t used() const noexcept { return used_.load(std::memory_order_acquire); }

  // Claims an idle slot for a caller, `preferred` first (may be null). On the hot path.
  Slot* claim_idle(Slot* preferred) noexcept {
    if (preferred != nullptr && take_idle(*preferred, SlotState::in_use)) return preferred;
    const std::size_t used = this->used();
    for (std::size_t i = 0; i < used; ++i) {
      if (take_idle(slots_[i], SlotState::in_use)) return &slots_[i];
    }
    return nullptr;
  }

  // Moves an empty slot to `opening` and lets `prepare(slot)` fill in its identity before the
  // slot is published to the lock-free readers. The caller holds the core's mutex and has
  // checked that a slot is empty (fewer connections than slots).
  template <class Prepare>
  Slot* reserve_empty(Prepare&& prepare) noexcept {
    for (std::size_t i = 0; i < size_; ++i) {
      Slot& slot = slots_[i];
      if (slot.state.load(std::memory_order_relaxed) != SlotState::empty) continue;
      slot.state.store(SlotState::opening, std::memory_order_relaxed);
      prepare(slot);
      if (i + 1 > used_.load(std::memory_order_relaxed)) {
        used_.store(i + 1, std::memory_order_release);
      }
      return &slot;
    }
    return nullptr;
  }

  // Fills in the in-use and idle counts and the check-outs of the slots' current connections.
  void count(PoolStats& stats) const noexcept;

 private:
  std::unique_ptr<Slot[]> slots_;
  std::size_t size_;
  std::atomic<std::size_t> used_{0};  // high-water mark of slot indexes in use
};

}  // namespace poolkit::detail
