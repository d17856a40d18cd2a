#include "poolkit/detail/pool_core.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "wake_signal.hpp"

namespace poolkit::detail {
namespace {

// Idle, lifetime and leak limits are in the seconds range; the coarse clock (a few ms of
// resolution) costs a fraction of the precise one on the hot path.
std::int64_t coarse_now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::int64_t to_ns(std::chrono::milliseconds ms) noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

// The slot this thread checked out last, per pool: reusing it keeps its cache line local.
struct Hint {
  const PoolCore* pool = nullptr;
  std::size_t index = 0;
};
thread_local Hint t_hint;

// Moves a slot out of `idle` if nobody else did first; the winner owns the slot. close()
// asks for seq_cst: its read must pair with check-in's seq_cst "store idle, read state".
template <std::memory_order order = std::memory_order_acquire>
bool take_idle(Slot& slot, SlotState to) noexcept {
  SlotState expected = SlotState::idle;
  constexpr auto peek = order == std::memory_order_seq_cst ? order : std::memory_order_relaxed;
  return slot.state.load(peek) == SlotState::idle &&
         slot.state.compare_exchange_strong(expected, to, order, peek);
}

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

struct PoolCore::Waiter {
  Waiter* prev = nullptr;
  Waiter* next = nullptr;
  Waiter* wake_next = nullptr;
  Grant grant = Grant::none;
  Slot* slot = nullptr;
  Clock::time_point queued_at{};
  WakeSignal signal;
};

namespace {
// Without strict FIFO, a waiter that has waited this long is handed connections directly
// again, so callers that barge in can delay it by this much at most.
constexpr auto kStarvationLimit = std::chrono::milliseconds(1);
}  // namespace

// Waiters granted something under the lock, woken after it is released.
struct PoolCore::Wakeups {
  Waiter* first = nullptr;
  void add(Waiter* waiter) noexcept {
    waiter->wake_next = first;
    first = waiter;
  }
  void post_all() noexcept {
    while (first != nullptr) {
      Waiter* waiter = first;
      first = waiter->wake_next;  // read before post: the waiter may return at once
      waiter->signal.post();
    }
  }
};

void OwnerRelease::operator()(PoolCore* core) const noexcept {
  PoolCore::release_owner(core);
}

PoolCorePtr PoolCore::create(std::unique_ptr<Driver> driver, PoolOptions options,
                             std::shared_ptr<PoolListener> listener) {
  validate(options);
  PoolCorePtr core(new PoolCore(std::move(driver), std::move(options), std::move(listener)));
  PoolEvent created{.type = PoolEventType::pool_created};
  created.options = &core->options_;
  core->emit(created);
  if (core->options_.background_interval.count() >= 0) {
    core->maintenance_ = std::thread([raw = core.get()] { raw->maintenance_loop(); });
  }
  return core;
}

PoolCore::PoolCore(std::unique_ptr<Driver> driver, PoolOptions options,
                   std::shared_ptr<PoolListener> listener)
    : driver_(std::move(driver)),
      options_(std::move(options)),
      listener_(std::move(listener)),
      slots_(std::make_unique<Slot[]>(options_.max_size)),
      state_(options_.start_paused ? PoolState::paused : PoolState::ready),
      rng_(static_cast<std::uint_fast32_t>(coarse_now_ns())),
      maintenance_now_(!options_.start_paused) {}

PoolCore::~PoolCore() {
  if (maintenance_.joinable()) maintenance_.join();
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
// Check-out

Slot* PoolCore::checkout(std::chrono::milliseconds timeout) {
  Clock::time_point started{};
  if (listener_) {
    started = Clock::now();
    emit({.type = PoolEventType::check_out_started});
  }
  if (state_.load(std::memory_order_acquire) == PoolState::ready &&
      (!options_.strict_fifo || waiters_.load(std::memory_order_seq_cst) == 0)) {
    const std::int64_t now_ns = coarse_now_ns();
    const Hint hint = t_hint;
    Slot* preferred =
        hint.pool == this && hint.index < options_.max_size ? &slots_[hint.index] : nullptr;
    while (Slot* slot = claim_idle(preferred)) {
      if (usable(slot, now_ns)) return hand_out(slot, now_ns, started);
      preferred = nullptr;
    }
  }
  if (started == Clock::time_point{}) started = Clock::now();
  return slow_checkout(started, started + timeout);
}

Slot* PoolCore::claim_idle(Slot* preferred) noexcept {
  if (preferred != nullptr && take_idle(*preferred, SlotState::in_use)) return preferred;
  const std::size_t used = slots_used_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) {
    if (take_idle(slots_[i], SlotState::in_use)) return &slots_[i];
  }
  return nullptr;
}

Slot* PoolCore::hand_out(Slot* slot, std::int64_t now_ns, Clock::time_point started) noexcept {
  slot->checked_out_ns.store(now_ns, std::memory_order_relaxed);
  // Only the owner writes the counter: a plain increment, no locked instruction.
  slot->checkouts.store(slot->checkouts.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
  t_hint = {this, static_cast<std::size_t>(slot - slots_.get())};
  if (listener_) {
    emit({.type = PoolEventType::checked_out,
          .connection_id = slot->id.load(std::memory_order_relaxed),
          .duration = Clock::now() - started});
  }
  return slot;
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
    health_checks_.fetch_add(1, std::memory_order_relaxed);
    bool healthy = false;
    try {
      healthy = driver_->check(*slot->box, Clock::now() + options_.connect_timeout);
    } catch (...) {
      healthy = false;
    }
    if (!healthy) {
      health_check_failures_.fetch_add(1, std::memory_order_relaxed);
      (void)retire(slot, CloseReason::error);
      return false;
    }
  }
  return true;
}

Slot* PoolCore::slow_checkout(Clock::time_point started, Clock::time_point deadline) {
  Waiter me;
  bool waited = false;
  bool retry = false;
  for (;;) {
    if (!join_queue(me, retry)) waited |= await_grant(me, started, deadline);
    switch (me.grant) {
      case Grant::connection: {
        const std::int64_t now_ns = coarse_now_ns();
        if (usable(me.slot, now_ns)) {
          if (waited) record_wait(started);
          return hand_out(me.slot, now_ns, started);
        }
        retry = true;  // it was stale or dead: back to the front, same deadline
        continue;
      }
      case Grant::open_permission:
        if (waited) record_wait(started);
        return open_for_caller(me.slot, started);
      case Grant::cleared:
        emit_checkout_failed(CheckOutFailure::connection_error, started);
        throw PoolClearedError(
            options_.backend,
            fmt::format("{} pool ({}) was cleared after connection errors and is paused; the "
                        "operation can be retried once the server is reachable",
                        options_.name, options_.address));
      case Grant::closed:
        emit_checkout_failed(CheckOutFailure::pool_closed, started);
        throw PoolClosedError(options_.backend,
                              fmt::format("{} pool ({}) is closed; no connection can be checked "
                                          "out of a closed pool",
                                          options_.name, options_.address));
      case Grant::none:
      case Grant::look:  // resolved inside await_grant
        break;
    }
  }
}

// Queues the caller and serves the queue. True when the caller's fate was settled while
// we held the lock (served at once, or refused because the pool is paused or closed).
bool PoolCore::join_queue(Waiter& me, bool at_front) {
  me.grant = Grant::none;
  me.slot = nullptr;
  me.signal.reset();
  Wakeups wakeups;
  std::unique_lock lock(mutex_);
  const PoolState state = state_.load(std::memory_order_relaxed);
  if (state == PoolState::closed) me.grant = Grant::closed;
  if (state == PoolState::paused) me.grant = Grant::cleared;
  if (me.grant == Grant::none) {
    enqueue_locked(me, at_front);
    dispatch_locked(wakeups);
  }
  const bool settled = me.grant != Grant::none;
  lock.unlock();
  wakeups.post_all();
  return settled;
}

// Sleeps until the caller is granted something, or throws PoolTimeoutError at the deadline.
// Returns whether it actually had to wait. `me.grant` is read only after the signal's
// acquire, which orders it after the granting thread's write.
// Sleeps until the caller is granted something, or throws PoolTimeoutError at the deadline.
// Returns whether it actually had to wait. With strict FIFO a grant is written once, before
// the post, so `me.grant` is read after the signal's acquire; without it a nudge (Grant::look)
// can be followed by a real grant, so the grant is read under the lock.
bool PoolCore::await_grant(Waiter& me, Clock::time_point started, Clock::time_point deadline) {
  bool waited = false;
  for (;;) {
    if (!me.signal.is_posted()) {
      waited = true;
      if (!me.signal.wait_until(deadline)) {
        std::unique_lock lock(mutex_);
        if (me.grant == Grant::none) give_up_locked(me, lock, started, deadline);
        lock.unlock();
        me.signal.wait();  // granted just as the deadline passed: the post is on its way
      }
    }
    if (options_.strict_fifo) return waited;
    std::unique_lock lock(mutex_);
    if (me.grant != Grant::look) return waited;
    // Nudged: a connection was returned. Take it if nobody barged in first.
    if (Slot* idle = claim_idle(nullptr)) {
      Wakeups wakeups;
      remove_waiter_locked(me);
      me.grant = Grant::connection;
      me.slot = idle;
      dispatch_locked(wakeups);  // the next waiter may be due something too
      lock.unlock();
      wakeups.post_all();
      return waited;
    }
    me.grant = Grant::none;
    me.signal.reset();
    if (Clock::now() >= deadline) give_up_locked(me, lock, started, deadline);
  }
}

void PoolCore::give_up_locked(Waiter& me, std::unique_lock<std::mutex>& lock,
                              Clock::time_point started, Clock::time_point deadline) {
  Wakeups wakeups;
  remove_waiter_locked(me);
  dispatch_locked(wakeups);  // whatever was meant for us goes to the next in line
  lock.unlock();
  wakeups.post_all();
  record_wait(started);
  emit_checkout_failed(CheckOutFailure::timeout, started);
  throw_timeout(started, deadline);
}

void PoolCore::enqueue_locked(Waiter& waiter, bool at_front) noexcept {
  if (at_front) {
    waiter.prev = nullptr;
    waiter.next = head_;
    (head_ != nullptr ? head_->prev : tail_) = &waiter;
    head_ = &waiter;
  } else {
    waiter.prev = tail_;
    waiter.next = nullptr;
    (tail_ != nullptr ? tail_->next : head_) = &waiter;
    tail_ = &waiter;
  }
  waiter.queued_at = Clock::now();
  waiters_.fetch_add(1, std::memory_order_seq_cst);
}

void PoolCore::remove_waiter_locked(Waiter& waiter) noexcept {
  (waiter.prev != nullptr ? waiter.prev->next : head_) = waiter.next;
  (waiter.next != nullptr ? waiter.next->prev : tail_) = waiter.prev;
  waiter.prev = waiter.next = nullptr;
  waiters_.fetch_sub(1, std::memory_order_seq_cst);
}

// Serves waiters oldest first: an idle connection if there is one, else permission to
// open a new one if the pool and max_connecting allow it.
void PoolCore::dispatch_locked(Wakeups& wakeups) {
  while (head_ != nullptr) {
    Waiter* oldest = head_;
    if (Slot* idle = claim_idle(nullptr)) {
      grant_locked(*oldest, Grant::connection, idle, wakeups);
    } else if (Slot* fresh = reserve_for_open_locked()) {
      grant_locked(*oldest, Grant::open_permission, fresh, wakeups);
    } else {
      return;
    }
  }
}

void PoolCore::fail_waiters_locked(Grant grant, Wakeups& wakeups) noexcept {
  while (head_ != nullptr) grant_locked(*head_, grant, nullptr, wakeups);
}

void PoolCore::grant_locked(Waiter& waiter, Grant grant, Slot* slot, Wakeups& wakeups) noexcept {
  // A nudged waiter already has its one post on the way; a second one could reach it after
  // it has returned. It reads the upgraded grant under the lock when it wakes.
  const bool signalled = waiter.grant == Grant::look;
  remove_waiter_locked(waiter);
  waiter.grant = grant;
  waiter.slot = slot;
  if (!signalled) wakeups.add(&waiter);
}

Slot* PoolCore::reserve_for_open_locked() noexcept {
  if (state_.load(std::memory_order_relaxed) != PoolState::ready) return nullptr;
  if (total_ >= options_.max_size || connecting_ >= options_.max_connecting) return nullptr;
  for (std::size_t i = 0; i < options_.max_size; ++i) {
    Slot& slot = slots_[i];
    if (slot.state.load(std::memory_order_relaxed) != SlotState::empty) continue;
    slot.state.store(SlotState::opening, std::memory_order_relaxed);
    slot.id.store(next_connection_id_++, std::memory_order_relaxed);
    slot.generation = generation_.load(std::memory_order_relaxed);
    slot.expires_ns = 0;
    if (options_.max_lifetime.count() > 0) {
      std::uniform_real_distribution<double> jitter(0.0, options_.max_lifetime_jitter);
      const double lifetime_ns = static_cast<double>(to_ns(options_.max_lifetime));
      slot.expires_ns = static_cast<std::int64_t>(lifetime_ns * (1.0 - jitter(rng_)));
    }
    ++total_;
    ++connecting_;
    total_atomic_.store(total_, std::memory_order_relaxed);
    if (i + 1 > slots_used_.load(std::memory_order_relaxed)) {
      slots_used_.store(i + 1, std::memory_order_release);
    }
    return &slot;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// Opening connections

// Opens the connection of a slot in state `opening`. Returns the connector's error (the
// slot is then freed), or null.
std::exception_ptr PoolCore::establish(Slot* slot) noexcept {
  const std::uint64_t id = slot->id.load(std::memory_order_relaxed);
  emit({.type = PoolEventType::connection_created, .connection_id = id});
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
  created_.fetch_add(1, std::memory_order_relaxed);
  emit({.type = PoolEventType::connection_ready,
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

Slot* PoolCore::open_for_caller(Slot* slot, Clock::time_point started) {
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

// ---------------------------------------------------------------------------------------
// Check-in and closing

void PoolCore::checkin(Slot* slot) noexcept {
  if (listener_) {
    emit({.type = PoolEventType::checked_in,
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
  if (waiters_.load(std::memory_order_seq_cst) != 0) {
    Wakeups wakeups;
    {
      std::lock_guard lock(mutex_);
      if (options_.strict_fifo || head_starving_locked()) {
        dispatch_locked(wakeups);  // straight to the oldest waiter
      } else {
        nudge_head_locked(wakeups);  // it competes for the connection with whoever comes
      }
    }
    wakeups.post_all();
  }
  return false;
}

bool PoolCore::head_starving_locked() const noexcept {
  return head_ != nullptr && Clock::now() - head_->queued_at >= kStarvationLimit;
}

void PoolCore::nudge_head_locked(Wakeups& wakeups) noexcept {
  if (head_ == nullptr || head_->grant != Grant::none) return;  // already nudged
  head_->grant = Grant::look;
  wakeups.add(head_);
}

// Closes a connection this thread owns and frees its slot. Returns true when the owner has
// let go and no connection is left, i.e. the caller must free the core.
bool PoolCore::retire(Slot* slot, CloseReason reason) noexcept {
  emit({.type = PoolEventType::connection_closed,
        .connection_id = slot->id.load(std::memory_order_relaxed),
        .close_reason = reason});
  const bool was_opening = !slot->box;
  if (slot->box) {
    driver_->close(*slot->box);
    slot->box.reset();
  }
  retired_checkouts_.fetch_add(slot->checkouts.exchange(0, std::memory_order_relaxed),
                               std::memory_order_relaxed);
  closed_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
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
  emit({.type = PoolEventType::pool_ready});  // before the connections it lets the task open
  wake_maintenance();
}

void PoolCore::wake_maintenance() {
  {
    std::lock_guard lock(mutex_);
    maintenance_now_ = true;
  }
  maintenance_cv_.notify_one();
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
      fail_waiters_locked(Grant::cleared, wakeups);
    }
  }
  emit({.type = PoolEventType::pool_cleared, .interrupt_in_use = interrupt_in_use});
  wakeups.post_all();
  wake_maintenance();  // close the stale idle connections now, not at the next tick
}

void PoolCore::close() {
  Wakeups wakeups;
  {
    std::lock_guard lock(mutex_);
    if (state_.load(std::memory_order_relaxed) == PoolState::closed) return;
    state_.store(PoolState::closed, std::memory_order_seq_cst);
    stopping_ = true;
    fail_waiters_locked(Grant::closed, wakeups);
  }
  wakeups.post_all();
  maintenance_cv_.notify_one();
  if (maintenance_.joinable()) maintenance_.join();
  // In-use connections are closed when they come back (checkin).
  const std::size_t used = slots_used_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) {
    if (take_idle<std::memory_order_seq_cst>(slots_[i], SlotState::reserved)) {
      (void)retire(&slots_[i], CloseReason::pool_closed);  // the owner is still here
    }
  }
  emit({.type = PoolEventType::pool_closed});
}

// ---------------------------------------------------------------------------------------
// Maintenance: one periodic task per pool (idle and stale reaping, leaks, warm minimum).

void PoolCore::maintenance_loop() {
  const auto interval = std::max(options_.background_interval, std::chrono::milliseconds(1));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    maintenance_cv_.wait_for(lock, interval, [&] { return stopping_ || maintenance_now_; });
    if (stopping_) break;
    maintenance_now_ = false;
    lock.unlock();
    reap_idle();
    report_leaks();
    fill_to_minimum();
    lock.lock();
  }
}

void PoolCore::reap_idle() {
  const std::int64_t now_ns = coarse_now_ns();
  const std::size_t used = slots_used_.load(std::memory_order_acquire);
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

std::optional<CloseReason> PoolCore::perished(const Slot& slot, std::int64_t now_ns) const {
  if (const auto reason = outdated(slot, now_ns)) return reason;
  if (options_.max_idle_time.count() > 0 &&
      now_ns - slot.last_used_ns > to_ns(options_.max_idle_time) &&
      total_atomic_.load(std::memory_order_relaxed) > options_.min_size) {
    return CloseReason::idle;
  }
  return std::nullopt;
}

void PoolCore::report_leaks() {
  if (options_.leak_threshold.count() <= 0) return;
  const std::int64_t now_ns = coarse_now_ns();
  const std::size_t used = slots_used_.load(std::memory_order_acquire);
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
    leaks_.fetch_add(1, std::memory_order_relaxed);
    emit({.type = PoolEventType::lease_leaked,
          .connection_id = slot.id.load(std::memory_order_relaxed),
          .duration = std::chrono::nanoseconds(held_ns)});
  }
}

void PoolCore::fill_to_minimum() {
  while (true) {
    Slot* slot = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (stopping_ || total_ >= options_.min_size) return;
      slot = reserve_for_open_locked();
    }
    if (slot == nullptr) return;  // paused, or max_connecting reached
    if (establish(slot)) return;  // failed (server down?): try again at the next tick
    (void)make_available(slot);
  }
}

// ---------------------------------------------------------------------------------------
// Events, stats, errors

void PoolCore::emit(PoolEvent event) const noexcept {
  if (!listener_) return;
  event.pool_name = options_.name;
  event.address = options_.address;
  listener_->on_event(event);
}

void PoolCore::emit_checkout_failed(CheckOutFailure failure, Clock::time_point started) noexcept {
  failures_[static_cast<std::size_t>(failure)].fetch_add(1, std::memory_order_relaxed);
  emit({.type = PoolEventType::check_out_failed,
        .failure = failure,
        .duration = Clock::now() - started});
}

void PoolCore::record_wait(Clock::time_point started) noexcept {
  const auto waited_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count());
  waited_.fetch_add(1, std::memory_order_relaxed);
  wait_total_us_.fetch_add(waited_us, std::memory_order_relaxed);
  auto max = wait_max_us_.load(std::memory_order_relaxed);
  while (waited_us > max &&
         !wait_max_us_.compare_exchange_weak(max, waited_us, std::memory_order_relaxed)) {
  }
  const auto bucket =
      std::lower_bound(kWaitBucketBoundsUs.begin(), kWaitBucketBoundsUs.end(), waited_us) -
      kWaitBucketBoundsUs.begin();
  wait_buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
}

void PoolCore::throw_timeout(Clock::time_point started, Clock::time_point deadline) {
  const PoolStats now = stats();
  const auto waited_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  const auto limit_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started).count();
  throw PoolTimeoutError(
      options_.backend,
      fmt::format("{} pool ({}): timed out after {} ms waiting for a connection (wait limit {} "
                  "ms); pool size {} ({}), {} in use, {} idle, {} connecting, {} other callers "
                  "waiting. {}",
                  options_.name, options_.address, waited_ms, limit_ms, options_.max_size,
                  options_.size_setting, now.in_use, now.idle, now.connecting, now.waiting,
                  timeout_advice(started)));
}

// Which limit kept the caller waiting, and what to change. A connect that failed while it
// waited means the server is the problem; room left in the pool means the caller queued behind
// the connections being opened (at most max_connecting at once), so the server is slow to
// accept them; otherwise every connection was in use or being opened: the pool is exhausted.
std::string PoolCore::timeout_advice(Clock::time_point started) {
  std::string failure;
  bool room_left = false;
  {
    std::lock_guard lock(mutex_);
    if (!last_connect_error_.empty() && last_connect_failure_ >= started) {
      failure = last_connect_error_;  // connectors mask secrets in their messages
    }
    room_left = total_ < options_.max_size;
  }
  if (!failure.empty()) {
    return fmt::format(
        "New connections are failing: the server is unreachable or refusing them, and a larger "
        "pool would only add failing connects; check that it is up and reachable from here. "
        "Last connection error: {}",
        failure);
  }
  if (room_left) {
    return fmt::format(
        "The pool had room to grow but waited behind the connections being opened (at most {} "
        "at once): the server is slow to accept connections. Check its connect latency, or keep "
        "connections warm with {}; raising {} would not help",
        options_.max_connecting, options_.min_size_setting, options_.size_setting);
  }
  return fmt::format(
      "The pool is exhausted (every connection is in use or being opened): raise {} if this "
      "load is expected, or hold connections for less time",
      options_.size_setting);
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
    s.waiting = waiters_.load(std::memory_order_relaxed);
  }
  s.generation = generation_.load(std::memory_order_relaxed);
  const std::size_t used = slots_used_.load(std::memory_order_acquire);
  for (std::size_t i = 0; i < used; ++i) {
    const SlotState state = slots_[i].state.load(std::memory_order_relaxed);
    if (state == SlotState::in_use) ++s.in_use;
    if (state == SlotState::idle || state == SlotState::reserved) ++s.idle;
    s.checkouts += slots_[i].checkouts.load(std::memory_order_relaxed);
  }
  s.checkouts += retired_checkouts_.load(std::memory_order_relaxed);
  s.created = created_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < kCloseReasonCount; ++i) {
    s.closed[i] = closed_[i].load(std::memory_order_relaxed);
  }
  for (std::size_t i = 0; i < kCheckOutFailureCount; ++i) {
    s.checkout_failures[i] = failures_[i].load(std::memory_order_relaxed);
  }
  s.health_checks = health_checks_.load(std::memory_order_relaxed);
  s.health_check_failures = health_check_failures_.load(std::memory_order_relaxed);
  s.leaks_detected = leaks_.load(std::memory_order_relaxed);
  s.waited = waited_.load(std::memory_order_relaxed);
  s.wait_time_total_us = wait_total_us_.load(std::memory_order_relaxed);
  s.wait_time_max_us = wait_max_us_.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < s.wait_buckets.size(); ++i) {
    s.wait_buckets[i] = wait_buckets_[i].load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace poolkit::detail
