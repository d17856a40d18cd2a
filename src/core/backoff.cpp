#include "poolkit/backoff.hpp"

#include <algorithm>
#include <random>

namespace poolkit {
namespace {

std::int64_t uniform_up_to(std::int64_t most) {
  if (most <= 0) return 0;
  thread_local std::minstd_rand engine{std::random_device{}()};
  return std::uniform_int_distribution<std::int64_t>(0, most)(engine);
}

}  // namespace

std::chrono::milliseconds Backoff::exponential(int retry) const noexcept {
  if (retry < 1 || base.count() <= 0) return std::chrono::milliseconds(0);
  const auto limit = std::max(cap, base).count();
  std::int64_t wait = base.count();
  for (int i = 1; i < retry && wait < limit; ++i) wait *= 2;
  return std::chrono::milliseconds(std::min(wait, limit));
}

std::chrono::milliseconds Backoff::delay(int retry) const {
  const auto fixed = exponential(retry);
  if (retry < 1) return fixed;
  const auto proportional =
      static_cast<std::int64_t>(jitter_ratio * static_cast<double>(fixed.count()));
  return fixed +
         std::chrono::milliseconds(uniform_up_to(jitter.count()) + uniform_up_to(proportional));
}

}  // namespace poolkit
