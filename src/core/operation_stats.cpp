#include "poolkit/operation_stats.hpp"

#include <algorithm>
#include <mutex>

namespace poolkit {
namespace {

std::size_t bucket_of(std::chrono::nanoseconds duration) {
  const double seconds = std::chrono::duration<double>(duration).count();
  const auto it = std::lower_bound(kDurationBuckets.begin(), kDurationBuckets.end(), seconds);
  return static_cast<std::size_t>(it - kDurationBuckets.begin());
}

}  // namespace

OperationStats::Cell& OperationStats::cell(std::string_view name, std::string_view outcome) {
  const std::pair<std::string_view, std::string_view> key{name, outcome};
  {
    std::shared_lock lock(mutex_);
    const auto it = cells_.find(key);  // a tree search: this runs on every recorded operation
    if (it != cells_.end()) return *it->second;
  }
  std::unique_lock lock(mutex_);
  auto& slot = cells_[{std::string(name), std::string(outcome)}];
  if (!slot) slot = std::make_unique<Cell>();
  return *slot;
}

void OperationStats::record(std::string_view name, std::string_view outcome,
                            std::chrono::nanoseconds duration) {
  Cell& c = cell(name, outcome);
  c.count.fetch_add(1, std::memory_order_relaxed);
  c.duration_sum_ns.fetch_add(
      static_cast<std::uint64_t>(std::max<std::int64_t>(duration.count(), 0)),
      std::memory_order_relaxed);
  c.buckets[bucket_of(duration)].fetch_add(1, std::memory_order_relaxed);
}

std::vector<OperationSnapshot> OperationStats::snapshot() const {
  std::shared_lock lock(mutex_);
  std::vector<OperationSnapshot> result;
  result.reserve(cells_.size());
  for (const auto& [key, c] : cells_) {
    OperationSnapshot s{.name = key.first, .outcome = key.second};
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < c->buckets.size(); ++i) {
      running += c->buckets[i].load(std::memory_order_relaxed);
      s.cumulative[i] = running;
    }
    s.count = running;
    s.duration_sum_s =
        static_cast<double>(c->duration_sum_ns.load(std::memory_order_relaxed)) / 1e9;
    result.push_back(std::move(s));
  }
  return result;
}

std::uint64_t OperationStats::total(std::string_view outcome) const {
  std::uint64_t sum = 0;
  for (const auto& s : snapshot())
    if (outcome.empty() || s.outcome == outcome) sum += s.count;
  return sum;
}

}  // namespace poolkit
