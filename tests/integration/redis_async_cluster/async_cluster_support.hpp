#pragma once
// For the async cluster client's tests: short timeouts (and the tests' Detached coroutine type).

#include <chrono>

#include "detached_coroutine.hpp"
#include "poolkit/redis_async_cluster.hpp"

namespace poolkit::test {

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
