#include "pool_core.hpp"

#include <fmt/format.h>

namespace poolkit::detail {
namespace {

// The slot this thread checked out last, per pool: reusing it keeps its cache line local.
// Lives here, beside the check-out that reads it, so reaching it costs no TLS wrapper call.
struct Hint {
  const PoolCore* pool = nullptr;
  std::size_t index = 0;
};
thread_local Hint t_hint;

void validate(const PoolOptions& o) {
  auto fail = [&](const std::string& what) {
    throw ConfigError(fmt::format("{} pool: {}", o.name, what));
  };
  if (o.max_size < 1) fail("max_size must be at least 1");
  if (o.min_size > o.max_size) {
    fail(fmt::format("min_size {} is larger than max_size {}; expected min_size <= max_size",
                     o.min_size, o.max_size));
  }
  if (o.max_connecting < 1) fail("max_connecting must be at least 1");
  if (o.wait_queue_timeout.count() < 0) fail("wait_queue_timeout must not be negative");
  if (o.connect_timeout.count() <= 0) fail("connect_timeout must be positive");
  if (o.max_idle_time.count() < 0) fail("max_idle_time must not be negative (0 = never)");
  if (o.max_lifetime.count() < 0) fail("max_lifetime must not be negative (0 = never)");
  if (!(o.max_lifetime_jitter >= 0.0 && o.max_lifetime_jitter < 1.0)) {
    fail("max_lifetime_jitter must be in [0, 1)");
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------
// The engine as Pool<Connector> sees it (poolkit/detail/pool_engine.hpp). Defined here, beside
// the members they forward to: checkout and checkin are the members' bodies (always inlined),
// so the hot path costs the same one call as when the template called the members; the rest
// are a jump.

PoolCorePtr create_pool(std::unique_ptr<Driver> driver, PoolOptions options,
                        std::shared_ptr<PoolListener> listener) {
  return PoolCore::create(std::move(driver), std::move(options), std::move(listener));
}
CheckedOut checkout(PoolCore& core) {
  return core.checkout(core.options().wait_queue_timeout);
}
CheckedOut checkout(PoolCore& core, std::chrono::milliseconds timeout) {
  return core.checkout(timeout);
}
void checkin(PoolCore& core, Slot* slot) noexcept {
  core.checkin(slot);
}
void ready(PoolCore& core) {
  core.ready();
}
void clear(PoolCore& core, ClearMode mode) {
  core.clear(mode);
}
void close(PoolCore& core) {
  core.close();
}
PoolStats stats(const PoolCore& core) {
  return core.stats();
}
const PoolOptions& options(const PoolCore& core) noexcept {
  return core.options();
}

void OwnerRelease::operator()(PoolCore* core) const noexcept {
  PoolCore::release_owner(core);
}

// ---------------------------------------------------------------------------------------
// Life cycle

PoolCorePtr PoolCore::create(std::unique_ptr<Driver> driver, PoolOptions options,
                             std::shared_ptr<PoolListener> listener) {
  validate(options);
  PoolCorePtr core(new PoolCore(std::move(driver), std::move(options), std::move(listener)));
  PoolEvent created{.type = PoolEventType::pool_created};
  created.options = &core->options_;
  core->events_.emit(created);
  if (core->options_.background_interval.count() >= 0) {
    core->maintenance_.start(core->options_.background_interval,
                             [raw = core.get()] { raw->maintenance_round(); });
  }
  return core;
}

PoolCore::PoolCore(std::unique_ptr<Driver> driver, PoolOptions options,
                   std::shared_ptr<PoolListener> listener)
    : driver_(std::move(driver)),
      options_(std::move(options)),
      events_(std::move(listener), options_),
      slots_(options_.max_size),
      state_(options_.start_paused ? PoolState::paused : PoolState::ready),
      rng_(static_cast<std::uint_fast32_t>(coarse_now_ns())),
      maintenance_(mutex_, !options_.start_paused) {}

PoolCore::~PoolCore() {
  maintenance_.stop_and_join();
}

void PoolCore::release_owner(PoolCore* core) noexcept {
  core->close();
  bool no_lease_out = false;
  {
    std::lock_guard lock(core->mutex_);
    core->owner_gone_ = true;
    no_lease_out = core->total_ == 0;
  }
  // Otherwise the check-in of the last lease frees it (see checkin).
  if (no_lease_out) delete core;
}

// ---------------------------------------------------------------------------------------
// Check-out: the hot path, then the queue's dispatcher

// Inlined into the engine functions above, its only callers: detail::checkout is this body.
[[gnu::always_inline]] inline CheckedOut PoolCore::checkout(std::chrono::milliseconds timeout) {
  Clock::time_point started{};
  if (events_.listening()) {
    started = Clock::now();
    events_.emit({.type = PoolEventType::check_out_started});
  }
  if (state_.load(std::memory_order_acquire) == PoolState::ready &&
      (!options_.strict_fifo || queue_.waiting() == 0)) {
    const std::int64_t now_ns = coarse_now_ns();
    const Hint hint = t_hint;
    Slot* preferred =
        hint.pool == this && hint.index < slots_.size() ? &slots_[hint.index] : nullptr;
    while (Slot* slot = slots_.claim_idle(preferred)) {
      if (usable(slot, now_ns)) return hand_out(slot, now_ns, started);
      preferred = nullptr;
    }
  }
  if (started == Clock::time_point{}) started = Clock::now();
  return slow_checkout(started, started + timeout);
}

CheckedOut PoolCore::hand_out(Slot* slot, std::int64_t now_ns, Clock::time_point started) noexcept {
  slot->checked_out_ns.store(now_ns, std::memory_order_relaxed);
  // Only the owner writes the counter: a plain increment, no locked instruction.
  slot->checkouts.store(slot->checkouts.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  t_hint = {this, slots_.index_of(slot)};
  if (events_.listening()) {
    events_.emit({.type = PoolEventType::checked_out,
                  .connection_id = slot->id.load(std::memory_order_relaxed),
                  .duration = Clock::now() - started});
  }
  return {slot, slot->box.get()};
}

// An idle connection can be reused unless it went stale, sat idle too long, outlived its
// lifetime or fails its health check; then it is closed here and the caller looks again.
// (The caller owns the pool, so retire() cannot be the last reference here.)
bool PoolCore::usable(Slot* slot, std::int64_t now_ns) {
  if (const auto reason = perished(*slot, now_ns)) {
    (void)retire(slot, *reason);
    return false;
  }
  if (options_.health_check_interval.count() > 0 &&
      now_ns - slot->last_used_ns > to_ns(options_.health_check_interval)) {
    bool healthy = false;
    try {
      healthy = driver_->check(*slot->box, Clock::now() + options_.connect_timeout);
    } catch (...) {
      healthy = false;
    }
    counters_.health_checked(healthy);
    if (!healthy) {
      (void)retire(slot, CloseReason::error);
      return false;
    }
  }
  return true;
}

// Serves waiters oldest first: an idle connection if there is one, else permission to
// open a new one if the pool and max_connecting allow it.
void PoolCore::dispatch_locked(Wakeups& wakeups) {
  while (Waiter* oldest = queue_.oldest_locked()) {
    if (Slot* idle = slots_.claim_idle(nullptr)) {
      queue_.grant_locked(*oldest, Grant::connection, idle, wakeups);
    } else if (Slot* fresh = reserve_for_open_locked()) {
      queue_.grant_locked(*oldest, Grant::open_permission, fresh, wakeups);
    } else {
      return;
    }
  }
}

Slot* PoolCore::reserve_for_open_locked() noexcept {
  if (state_.load(std::memory_order_relaxed) != PoolState::ready) return nullptr;
  if (total_ >= options_.max_size || connecting_ >= options_.max_connecting) return nullptr;
  Slot* slot = slots_.reserve_empty([&](Slot& fresh) {
    fresh.id.store(next_connection_id_++, std::memory_order_relaxed);
    fresh.generation = generation_.load(std::memory_order_relaxed);
    fresh.expires_ns = 0;
    if (options_.max_lifetime.count() > 0) {
      std::uniform_real_distribution<double> jitter(0.0, options_.max_lifetime_jitter);
      const double lifetime_ns = static_cast<double>(to_ns(options_.max_lifetime));
      fresh.expires_ns = static_cast<std::int64_t>(lifetime_ns * (1.0 - jitter(rng_)));
    }
    ++total_;
    ++connecting_;
    total_atomic_.store(total_, std::memory_order_relaxed);
  });
  return slot;
}

// ---------------------------------------------------------------------------------------
// Check-in and closing

// Inlined like checkout: detail::checkin is this body, no extra jump.
[[gnu::always_inline]] inline void PoolCore::checkin(Slot* slot) noexcept {
  if (events_.listening()) {
    events_.emit({.type = PoolEventType::checked_in,
                  .connection_id = slot->id.load(std::memory_order_relaxed)});
  }
  const std::int64_t now_ns = coarse_now_ns();
  bool last = false;
  if (const auto reason = reason_to_close_on_return(*slot, now_ns)) {
    last = retire(slot, *reason);
  } else {
    slot->last_used_ns = now_ns;  // also while paused: kept for when the pool is ready
    last = make_available(slot);
  }
  if (last) delete this;  // the owner let go earlier and this was the last lease out
}

// Parks the slot as idle, then makes sure nobody who started waiting (or closing) at the
// same moment misses it: both sides write first and read second (seq_cst), so at least one
// sees the other.
bool PoolCore::make_available(Slot* slot) noexcept {
  slot->state.store(SlotState::idle, std::memory_order_seq_cst);
  if (state_.load(std::memory_order_seq_cst) == PoolState::closed) {
    return take_idle(*slot, SlotState::reserved) && retire(slot, CloseReason::pool_closed);
  }
  if (queue_.waiting() != 0) {
    Wakeups wakeups;
    {
      std::lock_guard lock(mutex_);
      if (options_.strict_fifo || queue_.oldest_starving_locked()) {
        dispatch_locked(wakeups);  // straight to the oldest waiter
      } else {
        queue_.nudge_oldest_locked(wakeups);  // it competes for the connection with whoever comes
      }
    }
    wakeups.post_all();
  }
  return false;
}

// Closes a connection this thread owns and frees its slot. Returns true when the owner has
// let go and no connection is left, i.e. the caller must free the core.
bool PoolCore::retire(Slot* slot, CloseReason reason) noexcept {
  events_.emit({.type = PoolEventType::connection_closed,
                .connection_id = slot->id.load(std::memory_order_relaxed),
                .close_reason = reason});
  const bool was_opening = !slot->box;
  if (slot->box) {
    driver_->close(*slot->box);
    slot->box.reset();
  }
  counters_.connection_closed(reason, slot->checkouts.exchange(0, std::memory_order_relaxed));
  Wakeups wakeups;
  bool last = false;
  {
    std::lock_guard lock(mutex_);
    slot->state.store(SlotState::empty, std::memory_order_relaxed);
    --total_;
    if (was_opening) --connecting_;
    total_atomic_.store(total_, std::memory_order_relaxed);
    dispatch_locked(wakeups);  // its place may go to a waiter
    last = owner_gone_ && total_ == 0;
  }
  wakeups.post_all();
  return last;
}

// ---------------------------------------------------------------------------------------
// Pool state

void PoolCore::ready() {
  {
    std::lock_guard lock(mutex_);
    if (state_.load(std::memory_order_relaxed) != PoolState::paused) return;
    state_.store(PoolState::ready, std::memory_order_seq_cst);
  }
  events_.emit({.type = PoolEventType::pool_ready});  // before the connections it lets open
  maintenance_.wake();
}

void PoolCore::clear(ClearMode mode) {
  const bool interrupt_in_use = mode == ClearMode::pause_and_interrupt_in_use;
  Wakeups wakeups;
  {
    std::lock_guard lock(mutex_);
    if (state_.load(std::memory_order_relaxed) != PoolState::ready) return;
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (mode != ClearMode::keep_ready) {
      state_.store(PoolState::paused, std::memory_order_seq_cst);
      queue_.fail_all_locked(Grant::cleared, wakeups);
    }
  }
  events_.emit({.type = PoolEventType::pool_cleared, .interrupt_in_use = interrupt_in_use});
  wakeups.post_all();
  maintenance_.wake();  // close the stale idle connections now, not at the next tick
}

void PoolCore::close() {
  Wakeups wakeups;
  {
    std::lock_guard lock(mutex_);
    if (state_.load(std::memory_order_relaxed) == PoolState::closed) return;
    state_.store(PoolState::closed, std::memory_order_seq_cst);
    maintenance_.request_stop_locked();
    queue_.fail_all_locked(Grant::closed, wakeups);
  }
  wakeups.post_all();
  maintenance_.stop_and_join();
  // In-use connections are closed when they come back (checkin).
  const std::size_t used = slots_.used();
  for (std::size_t i = 0; i < used; ++i) {
    if (take_idle<std::memory_order_seq_cst>(slots_[i], SlotState::reserved)) {
      (void)retire(&slots_[i], CloseReason::pool_closed);  // the owner is still here
    }
  }
  events_.emit({.type = PoolEventType::pool_closed});
}

PoolStats PoolCore::stats() const {
  PoolStats s;
  s.name = options_.name;
  s.address = options_.address;
  s.max_size = options_.max_size;
  s.min_size = options_.min_size;
  {
    std::lock_guard lock(mutex_);
    s.state = state_.load(std::memory_order_relaxed);
    s.connecting = connecting_;
    s.total = total_;
    s.waiting = queue_.waiting_relaxed();
  }
  s.generation = generation_.load(std::memory_order_relaxed);
  slots_.count(s);
  counters_.fill(s);
  return s;
}

}  // namespace poolkit::detail
