#pragma once
// For the async cluster client's tests: short timeouts, and a fire-and-forget coroutine type.

#include <chrono>
#include <coroutine>
#include <exception>

#include "poolkit/redis_async_cluster.hpp"

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

inline redis::AsyncClusterOptions async_cluster_options() {
  redis::AsyncClusterOptions options;
  options.node.multiplex_connections = 2;
  options.node.connect_timeout = std::chrono::milliseconds(500);
  options.node.socket_timeout = std::chrono::milliseconds(2000);
  options.node.wait_timeout = std::chrono::milliseconds(3000);
  options.node.client_name = "poolkit-async-cluster-test";
  return options;
}

}  // namespace poolkit::test
