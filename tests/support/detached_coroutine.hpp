#pragma once
// The smallest coroutine type a test needs to co_await something: starts at once, runs to its
// end, frees itself; an escaping exception ends the test run.

#include <coroutine>
#include <exception>

namespace poolkit::test {

struct Detached {
  struct promise_type {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

}  // namespace poolkit::test
