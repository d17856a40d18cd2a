#pragma once
// For the async client's tests: settings with short timeouts, and Detached, a fire-and-forget
// coroutine type (the client's awaitables work with any).

#include <coroutine>
#include <exception>
#include <string>

#include "detached_coroutine.hpp"
#include "poolkit/redis_async.hpp"
#include "redis_server.hpp"

namespace poolkit::test {

inline RedisSettings async_settings(const std::string& url, const std::string& name = "pk-async") {
  RedisSettings settings = test_settings(url, name);
  settings.multiplex_connections = 2;
  settings.max_pending = 10'000;
  return settings;
}

}  // namespace poolkit::test
