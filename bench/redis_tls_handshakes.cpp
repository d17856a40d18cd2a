// What TLS session resumption saves: opens connections one after another (connect, handshake,
// AUTH, CLIENT SETNAME, close) with one client that resumes sessions and one that does not,
// alternating rounds so both see the same background load. bench/redis_tls.sh runs it.
//
// Usage: poolkit_redis_tls_handshakes <rediss:// URL> [connections per round] [rounds]
// Prints one line per client: "<label> <ms per connection, median of the rounds> <full> <resumed>".

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"

namespace {

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// Milliseconds per connection over `count` connections opened and closed in turn.
double open_many(poolkit::redis::Client& client, int count) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    const poolkit::redis::Connection connection = client.open_unpooled();
  }
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  return elapsed.count() / count;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s rediss://... [connections] [rounds]\n", argv[0]);
    return 2;
  }
  const int count = argc > 2 ? std::max(1, std::atoi(argv[2])) : 100;
  const int rounds = argc > 3 ? std::max(1, std::atoi(argv[3])) : 5;
  try {
    poolkit::redis::Client resumed(argv[1]);
    poolkit::redis::Client full(argv[1], {.resume_tls_sessions = false});
    std::vector<double> resumed_ms;
    std::vector<double> full_ms;
    for (int round = 0; round < rounds; ++round) {
      resumed_ms.push_back(open_many(resumed, count));
      full_ms.push_back(open_many(full, count));
    }
    for (const auto& [label, client, times] :
         {std::tuple{"resumed", &resumed, &resumed_ms}, std::tuple{"full", &full, &full_ms}}) {
      const poolkit::redis::ClientStats stats = client->stats();
      std::printf("%s %.3f %llu %llu\n", label, median(*times),
                  static_cast<unsigned long long>(stats.tls_full_handshakes),
                  static_cast<unsigned long long>(stats.tls_resumed_handshakes));
    }
  } catch (const poolkit::Error& error) {
    std::fprintf(stderr, "poolkit_redis_tls_handshakes: %s\n", error.what());
    return 1;
  }
  return 0;
}
