#pragma once
// One command's result, shared by the I/O thread that completes it and whoever waits for it: a
// thread blocked in get(), a suspended coroutine, a future's promise or a callback.
//
// `phase` orders the two sides without a lock: the waiter publishes its continuation and moves
// pending → waiting; the I/O thread stores the result and moves to done. Whichever comes second
// runs the continuation (the waiter by not suspending at all).

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <thread>

#include "poolkit/redis_async.hpp"

namespace poolkit::redis::detail {

class CallState {
 public:
  enum Phase : std::uint32_t { pending, waiting, done };

  // `owners`: the handles that will release it (the caller's and the queue's, or the queue's
  // alone for a callback).
  static CallState* make(std::uint32_t owners, std::thread::id io_thread,
                         const Executor* default_executor);

  // The I/O thread's side: stores the outcome, then resumes or notifies whoever waits.
  void complete(Reply reply) noexcept;
  void fail(std::exception_ptr error) noexcept;

  // The waiter's side.
  bool ready() const noexcept { return phase_.load(std::memory_order_acquire) == done; }
  bool has_default_executor() const noexcept {
    return default_executor_ != nullptr && *default_executor_;
  }
  void wait() const;
  bool suspend(std::coroutine_handle<> continuation, Executor* executor) noexcept;
  void then(std::function<void(CallState&)> then);
  Reply take();

  void release() noexcept {
    if (owners_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  CallState(std::uint32_t owners, std::thread::id io_thread, const Executor* default_executor)
      : owners_(owners), io_thread_(io_thread), default_executor_(default_executor) {}
  void finish() noexcept;

  std::atomic<std::uint32_t> owners_;
  std::atomic<std::uint32_t> phase_{pending};
  Reply reply_;
  std::exception_ptr error_;
  std::coroutine_handle<> continuation_;
  Executor executor_;  // the awaitable's own, moved in at suspension
  std::function<void(CallState&)> then_;
  std::thread::id io_thread_;
  const Executor* default_executor_;  // the client's (it outlives every command)
};

inline CallHandle adopt(CallState* state) noexcept {
  return CallHandle(state);
}

}  // namespace poolkit::redis::detail
