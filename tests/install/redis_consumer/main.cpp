// A Redis-only service built against the installed poolkit::redis component. It talks to no
// server: it builds a client (which connects lazily) and reads its masked address.
#include <cstdio>
#include <poolkit/redis.hpp>
#include <poolkit/settings.hpp>

int main() {
  poolkit::RedisSettings settings = poolkit::Settings::defaults().redis;
  settings.url = poolkit::parse_url("redis://app:not-a-real-password@127.0.0.1:6399/0");
  poolkit::redis::Client client(settings);
  const std::string address = client.address();
  if (address != "redis://app:****@127.0.0.1:6399/0") {
    std::fprintf(stderr, "unexpected address: %s\n", address.c_str());
    return 1;
  }
  std::puts("redis consumer: ok");
  return 0;
}
