#pragma once
// Exponential backoff with a cap and random jitter, shared by every layer's retries:
// Redis (base 8 ms, cap 512 ms), async HTTP (HTTP_RESILIENCE_*) and sync HTTP (urllib3's
// backoff factor).

#include <chrono>

namespace poolkit {

struct Backoff {
  // Wait before the first retry; doubles for each retry after it.
  std::chrono::milliseconds base{8};
  // Most the exponential part grows to.
  std::chrono::milliseconds cap{512};
  // A uniformly random extra in [0, jitter] added to every wait.
  std::chrono::milliseconds jitter{0};
  // A uniformly random extra in [0, jitter_ratio × the exponential part], so concurrent
  // retriers spread out in proportion to how long they wait.
  double jitter_ratio = 0.0;

  // The deterministic part for retry number `retry` (1 = the first retry):
  // min(cap, base × 2^(retry-1)); zero for retry < 1.
  std::chrono::milliseconds exponential(int retry) const noexcept;
  // exponential(retry) plus the random jitter.
  std::chrono::milliseconds delay(int retry) const;

  bool operator==(const Backoff&) const = default;
};

}  // namespace poolkit
