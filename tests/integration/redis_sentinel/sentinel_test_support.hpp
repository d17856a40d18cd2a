#pragma once
// Shared by the Sentinel tests: the run's password, and the sentinels' URL carrying the data
// nodes' password.

#include <cstdlib>
#include <string>

#include "local_servers/redis_cluster.hpp"

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

}  // namespace poolkit::sentinel_testing
