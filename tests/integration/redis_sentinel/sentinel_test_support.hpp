#pragma once
// Shared by the Sentinel tests: the run's password, and the sentinels' URL carrying the data
// nodes' password.

#include <chrono>
#include <cstdlib>
#include <string>

#include "local_servers/redis_cluster.hpp"
#include "poolkit/redis_sentinel.hpp"

namespace poolkit::sentinel_testing {

inline std::string test_secret() {
  const char* secret = std::getenv("POOLKIT_TEST_SECRET");
  return secret && *secret ? secret : "pkSecretStandIn7x9q";
}

// The sentinels' URL (redis:// or rediss://) with the data nodes' password as user info (the
// sentinels need none).
inline std::string data_url(const local::RedisSentinelSet& set) {
  std::string url = set.sentinels_url();
  return url.insert(url.find("://") + 3, ":" + test_secret() + "@");
}

// Short timeouts so that a test that goes wrong fails in seconds.
inline redis::SentinelOptions quick_options() {
  redis::SentinelOptions options;
  options.node.max_connections = 8;
  options.node.connect_timeout = std::chrono::milliseconds(500);
  options.node.socket_timeout = std::chrono::milliseconds(2000);
  options.node.wait_timeout = std::chrono::milliseconds(3000);
  options.node.client_name = "poolkit-sentinel-test";
  options.sentinel_timeout = std::chrono::milliseconds(300);
  return options;
}

}  // namespace poolkit::sentinel_testing
