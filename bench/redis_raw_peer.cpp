// The bare hiredis peer of `poolkit bench redis` (bench/redis.sh): N threads, each with its own
// blocking redisContext (no pool at all), running GET of one key for a while. It has the same
// threading model as poolkit's bench and none of the pool, so poolkit's distance from it is what
// the pool costs, and its distance from redis-benchmark (one event loop) is what N blocking
// threads cost on this machine.
//
// Usage: poolkit_redis_raw_peer PORT N SECONDS KEY   (password, if any, in $REDISCLI_AUTH)
// Prints "ops_per_sec p50_us p99_us".

#include <hiredis/hiredis.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "peer_latencies.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct ContextDeleter {
  void operator()(redisContext* context) const noexcept { redisFree(context); }
};
using Context = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(void* reply) const noexcept { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<void, ReplyDeleter>;

Context connect(int port, const char* password) {
  Context context(redisConnect("127.0.0.1", port));
  if (!context || context->err != 0) return nullptr;
  if (password != nullptr && *password != '\0') {
    Reply reply(redisCommand(context.get(), "AUTH %s", password));
    if (!reply) return nullptr;
  }
  return context;
}

// Each thread's latencies in microseconds, or empty when it could not connect.
std::vector<std::uint32_t> run_worker(int port, const char* password, const std::string& key,
                                      Clock::time_point start, Clock::time_point end) {
  std::vector<std::uint32_t> latencies;
  Context context = connect(port, password);
  if (!context) return latencies;
  latencies.reserve(1 << 20);
  std::this_thread::sleep_until(start);
  for (auto now = Clock::now(); now < end;) {
    Reply reply(redisCommand(context.get(), "GET %s", key.c_str()));
    const auto done = Clock::now();
    if (!reply) break;
    latencies.push_back(static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(done - now).count()));
    now = done;
  }
  return latencies;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s PORT N SECONDS KEY\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int n = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  const std::string key = argv[4];
  if (port <= 0 || n < 1 || seconds <= 0) {
    std::fprintf(stderr, "PORT and N must be positive and SECONDS above 0\n");
    return 2;
  }
  const char* password = std::getenv("REDISCLI_AUTH");
  const auto start = Clock::now() + std::chrono::milliseconds(200);  // every thread connected
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::vector<std::uint32_t>> results(static_cast<std::size_t>(n));
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        results[static_cast<std::size_t>(i)] = run_worker(port, password, key, start, end);
      });
    }
  }
  for (const auto& r : results) {
    if (r.empty()) {
      std::fprintf(stderr, "a worker could not connect or got no reply\n");
      return 1;
    }
  }
  const auto all = poolkit::bench::sorted_latencies(
      results, [](const std::vector<std::uint32_t>& r) -> const auto& { return r; });
  std::printf("%.0f %u %u\n", static_cast<double>(all.size()) / seconds,
              poolkit::bench::quantile(all, 0.50), poolkit::bench::quantile(all, 0.99));
  return 0;
}
