// A command's result and its hand-over from the I/O thread to the waiter.

#include "call_state.hpp"

#include "poolkit/error.hpp"

namespace poolkit::redis::detail {

void CallStateRelease::operator()(CallState* state) const noexcept {
  state->release();
}

CallState* CallState::make(std::uint32_t owners, std::thread::id io_thread,
                           const Executor* default_executor) {
  return new CallState(owners, io_thread, default_executor);  // NOLINT: owned by its handles
}

void CallState::complete(Reply reply) noexcept {
  reply_ = std::move(reply);
  finish();
}

void CallState::fail(std::exception_ptr error) noexcept {
  error_ = std::move(error);
  finish();
}

// The queue's handle keeps the state alive through all of this, however fast the waiter
// releases its own.
void CallState::finish() noexcept {
  const std::uint32_t before = phase_.exchange(done, std::memory_order_acq_rel);
  if (before == waiting) {
    if (then_) {
      try {
        then_(*this);
      } catch (...) {
        // A callback's exception has nowhere to go on the I/O thread; docs/redis.md says so.
      }
    } else if (executor_) {
      executor_(continuation_);
    } else if (has_default_executor()) {
      (*default_executor_)(continuation_);
    } else {
      continuation_.resume();
    }
  }
  phase_.notify_all();
}

void CallState::wait() const {
  if (ready()) return;
  if (std::this_thread::get_id() == io_thread_) {
    throw ConfigError(
        "a blocking wait for an async Redis command on the client's own I/O thread (in a "
        "callback, or a coroutine resumed there) would wait for itself: co_await it, or pass a "
        "callback, or set AsyncOptions::executor so coroutines resume elsewhere");
  }
  for (std::uint32_t seen = phase_.load(std::memory_order_acquire); seen != done;
       seen = phase_.load(std::memory_order_acquire)) {
    phase_.wait(seen, std::memory_order_acquire);
  }
}

// With an executor the coroutine always resumes through it, even when the reply was in before
// it could suspend: its code after co_await then always runs where the executor puts it.
bool CallState::suspend(std::coroutine_handle<> continuation, Executor* executor) noexcept {
  continuation_ = continuation;
  if (executor != nullptr) executor_ = std::move(*executor);
  std::uint32_t expected = pending;
  if (phase_.compare_exchange_strong(expected, waiting, std::memory_order_acq_rel)) return true;
  if (executor_) {
    executor_(continuation);
    return true;
  }
  if (has_default_executor()) {
    (*default_executor_)(continuation);
    return true;
  }
  return false;  // resume at once, on this thread
}

void CallState::then(std::function<void(CallState&)> then) {
  then_ = std::move(then);
  std::uint32_t expected = pending;
  if (!phase_.compare_exchange_strong(expected, waiting, std::memory_order_acq_rel)) {
    then_(*this);  // already complete
  }
}

Reply CallState::take() {
  if (error_) std::rethrow_exception(error_);
  return std::move(reply_);
}

bool call_ready(const CallState& state) noexcept {
  return state.ready();
}
bool call_ready_inline(const CallState& state) noexcept {
  return state.ready() && !state.has_default_executor();
}
void call_wait(const CallState& state) {
  state.wait();
}
bool call_suspend(CallState& state, std::coroutine_handle<> continuation,
                  Executor* executor) noexcept {
  return state.suspend(continuation, executor);
}
Reply call_take(CallState& state) {
  return state.take();
}
void call_then(CallState& state, std::function<void(CallState&)> then) {
  state.then(std::move(then));
}

}  // namespace poolkit::redis::detail
