#pragma once
// Latency recording for the load generator: log-linear buckets (exact below 256 µs, then 128
// sub-buckets per power of two, under 1% error) so a worker records with one increment and
// workers merge by adding.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

namespace poolkit::cli {

class LatencyHistogram {
 public:
  void record(std::uint64_t micros) {
    ++counts_[index_of(micros)];
    ++total_;
    max_ = std::max(max_, micros);
  }
  void merge(const LatencyHistogram& other) {
    for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    max_ = std::max(max_, other.max_);
  }
  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return max_; }
  // The smallest recorded bucket value with at least q of the samples at or below it.
  std::uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    const auto wanted = static_cast<std::uint64_t>(q * static_cast<double>(total_) + 0.999999);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= std::max<std::uint64_t>(wanted, 1)) return std::min(value_of(i), max_);
    }
    return max_;
  }

 private:
  static constexpr std::size_t kLinear = 256;
  static constexpr std::size_t kSubBuckets = 128;
  static constexpr std::size_t kBuckets = kLinear + 40 * kSubBuckets;

  static std::size_t index_of(std::uint64_t v) {
    if (v < kLinear) return static_cast<std::size_t>(v);
    const int shift = std::bit_width(v) - 8;  // v >> shift lies in [128, 256)
    const std::size_t index = kLinear + static_cast<std::size_t>(shift - 1) * kSubBuckets +
                              static_cast<std::size_t>((v >> shift) - kSubBuckets);
    return std::min(index, kBuckets - 1);
  }
  // The upper edge of a bucket, so quantiles never under-report.
  static std::uint64_t value_of(std::size_t index) {
    if (index < kLinear) return index;
    const std::size_t shift = (index - kLinear) / kSubBuckets + 1;
    const std::uint64_t mantissa = (index - kLinear) % kSubBuckets + kSubBuckets;
    return ((mantissa + 1) << shift) - 1;
  }

  std::vector<std::uint64_t> counts_ = std::vector<std::uint64_t>(kBuckets, 0);
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace poolkit::cli
