#pragma once
// For the async client's tests: settings with short timeouts, and a fire-and-forget coroutine
// type (the client's awaitables work with any).

#include <coroutine>
#include <exception>
#include <string>

#include "poolkit/redis_async.hpp"
#include "redis_server.hpp"

namespace poolkit::test {

// Starts at once, runs to its end, frees itself; an escaping exception ends the test run.
struct Detached {
  struct promise_type {
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

inline RedisSettings async_settings(const std::string& url, const std::string& name = "pk-async") {
  RedisSettings settings = test_settings(url, name);
  settings.multiplex_connections = 2;
  settings.max_pending = 10'000;
  return settings;
}

}  // namespace poolkit::test
