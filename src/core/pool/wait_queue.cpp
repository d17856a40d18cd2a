#include "wait_queue.hpp"

namespace poolkit::detail {
namespace {
// Without strict FIFO, a waiter that has waited this long is handed connections directly
// again, so callers that barge in can delay it by this much at most.
constexpr auto kStarvationLimit = std::chrono::milliseconds(1);
}  // namespace

void WaitQueue::enqueue_locked(Waiter& waiter, bool at_front) noexcept {
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
  count_.fetch_add(1, std::memory_order_seq_cst);
}

void WaitQueue::remove_locked(Waiter& waiter) noexcept {
  (waiter.prev != nullptr ? waiter.prev->next : head_) = waiter.next;
  (waiter.next != nullptr ? waiter.next->prev : tail_) = waiter.prev;
  waiter.prev = waiter.next = nullptr;
  count_.fetch_sub(1, std::memory_order_seq_cst);
}

void WaitQueue::grant_locked(Waiter& waiter, Grant grant, Slot* slot, Wakeups& wakeups) noexcept {
  // A nudged waiter already has its one post on the way; a second one could reach it after
  // it has returned. It reads the upgraded grant under the lock when it wakes.
  const bool signalled = waiter.grant == Grant::look;
  remove_locked(waiter);
  waiter.grant = grant;
  waiter.slot = slot;
  if (!signalled) wakeups.add(&waiter);
}

void WaitQueue::fail_all_locked(Grant grant, Wakeups& wakeups) noexcept {
  while (head_ != nullptr) grant_locked(*head_, grant, nullptr, wakeups);
}

bool WaitQueue::oldest_starving_locked() const noexcept {
  return head_ != nullptr && Clock::now() - head_->queued_at >= kStarvationLimit;
}

void WaitQueue::nudge_oldest_locked(Wakeups& wakeups) noexcept {
  if (head_ == nullptr || head_->grant != Grant::none) return;  // already nudged
  head_->grant = Grant::look;
  wakeups.add(head_);
}

}  // namespace poolkit::detail
