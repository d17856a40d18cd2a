#pragma once
// A one-shot signal one thread posts and another waits for, with an absolute deadline on
// the monotonic clock. A Linux futex: no mutex, no allocation, and the waker never has to
// take the sleeper's lock. (libstdc++ 12's semaphores have had lost-wakeup bugs with
// timed waits; this is small enough to own.)

#include <linux/futex.h>
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
    posted_.store(1, std::memory_order_release);
    futex(FUTEX_WAKE_PRIVATE, 1, nullptr);
  }

  void reset() noexcept { posted_.store(0, std::memory_order_relaxed); }

  bool is_posted() const noexcept { return posted_.load(std::memory_order_acquire) != 0; }

  // True when posted, false when the deadline passed first.
  bool wait_until(std::chrono::steady_clock::time_point deadline) noexcept {
    const auto since_epoch = deadline.time_since_epoch();
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    timespec abs{};
    abs.tv_sec = secs.count();
    abs.tv_nsec = std::chrono::duration_cast<std::chrono::nanoseconds>(since_epoch - secs).count();
    while (!is_posted()) {
      if (futex(FUTEX_WAIT_BITSET_PRIVATE, 0, &abs) != 0 && errno == ETIMEDOUT) {
        return is_posted();
      }
    }
    return true;
  }

  void wait() noexcept {
    while (!is_posted()) futex(FUTEX_WAIT_PRIVATE, 0, nullptr);
  }

 private:
  long futex(int op, std::uint32_t value, const timespec* abs_deadline) noexcept {
    return syscall(SYS_futex, &posted_, op, value, abs_deadline, nullptr, FUTEX_BITSET_MATCH_ANY);
  }

  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t));
  std::atomic<std::uint32_t> posted_{0};
};

}  // namespace poolkit::detail
