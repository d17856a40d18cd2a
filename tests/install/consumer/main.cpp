// Uses the installed package the way a service would: a pool over its own connector.
#include <cstdint>
#include <cstdio>
#include <poolkit/pool.hpp>

namespace {
struct Counter {
  int value = 0;
};
struct CounterConnector {
  using Connection = Counter;
  Counter open(poolkit::Deadline) { return Counter{}; }
  bool check(Counter&, poolkit::Deadline) { return true; }
  void close(Counter&) noexcept {}
};
}  // namespace

int main() {
  poolkit::PoolOptions options;
  options.name = "consumer";
  options.max_size = 2;
  poolkit::Pool<CounterConnector> pool(CounterConnector{}, options);
  for (int i = 0; i < 3; ++i) {
    auto lease = pool.checkout();
    lease->value += 1;
  }
  std::uint64_t broken_id = 0;
  {
    auto lease = pool.checkout();
    broken_id = lease.connection_id();
    lease.mark_broken();  // closed on return instead of reused
  }
  if (broken_id == 0 || pool.checkout().connection_id() == broken_id) {
    std::fprintf(stderr, "a connection marked broken was handed out again (id %llu)\n",
                 static_cast<unsigned long long>(broken_id));
    return 1;
  }
  const auto stats = pool.stats();
  if (stats.checkouts != 5 || stats.created != 2) {
    std::fprintf(stderr, "unexpected stats: %llu checkouts, %llu created\n",
                 static_cast<unsigned long long>(stats.checkouts),
                 static_cast<unsigned long long>(stats.created));
    return 1;
  }
  std::puts("consumer: find_package(poolkit) works");
  return 0;
}
