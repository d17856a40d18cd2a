#pragma once
// A one-shot signal one thread posts and another waits for, with an absolute deadline on
// the monotonic clock. A Linux futex: no mutex, no allocation, and the waker never has to
// take the sleeper's lock. (libstdc++ 12's semaphores have had lost-wakeup bugs with
// timed waits; this is small enough to own.)

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace poolkit::detail {

class WakeSignal {
 public:
  void post() noexcept {
    // Only a waiter that announced it sleeps costs a system call.
    if (state_.exchange(kPosted, std::memory_order_acq_rel) == kSleeping) {
      futex(FUTEX_WAKE_PRIVATE, 1, nullptr);
    }
  }

  void reset() noexcept { state_.store(kIdle, std::memory_order_relaxed); }

  bool is_posted() const noexcept { return state_.load(std::memory_order_acquire) == kPosted; }

  // True when posted, false when the deadline passed first.
  bool wait_until(std::chrono::steady_clock::time_point deadline) noexcept {
    const auto since_epoch = deadline.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    timespec abs{};
    abs.tv_sec = secs.count();
    abs.tv_nsec = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count();
    return sleep(&abs);
  }

  void wait() noexcept { sleep(nullptr); }

 private:
  static constexpr std::uint32_t kIdle = 0;
  static constexpr std::uint32_t kPosted = 1;
  static constexpr std::uint32_t kSleeping = 2;
  // Before sleeping, give the CPU to others a few times: with more threads than cores the
  // grant often arrives meanwhile, which saves the futex sleep and the waker's system call
  // (measured in bench/pool_bench.cpp: about 4x at 32 threads on 2 cores).
  static constexpr int kYields = 16;

  bool sleep(const timespec* abs_deadline) noexcept {
    for (int i = 0; i < kYields; ++i) {
      if (is_posted()) return true;
      sched_yield();
    }
    for (;;) {
      std::uint32_t seen = kIdle;
      if (!state_.compare_exchange_strong(seen, kSleeping, std::memory_order_acq_rel) &&
          seen == kPosted) {
        return true;
      }
      // FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline (steady_clock's).
      if (futex(FUTEX_WAIT_BITSET_PRIVATE, kSleeping, abs_deadline) != 0 && errno == ETIMEDOUT) {
        return is_posted();
      }
    }
  }

  long futex(int op, std::uint32_t value, const timespec* abs_deadline) noexcept {
    return syscall(SYS_futex, &state_, op, value, abs_deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
  }

  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  std::atomic<std::uint32_t> state_{kIdle};
};

}  // namespace poolkit::detail
