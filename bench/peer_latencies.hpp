#pragma once
// The latencies of a bare peer's workers (bench/*_raw_peer.cpp), merged and read as quantiles
// the way `poolkit bench` reports them. Header-only: the peers link no poolkit code.

#include <algorithm>
#include <cstdint>
#include <vector>

namespace poolkit::bench {

// Every worker's latencies (in microseconds) in one sorted list; `latencies_of(worker)` gives
// one worker's.
template <class Workers, class LatenciesOf>
std::vector<std::uint32_t> sorted_latencies(const Workers& workers, LatenciesOf latencies_of) {
  std::vector<std::uint32_t> all;
  for (const auto& worker : workers) {
    const std::vector<std::uint32_t>& mine = latencies_of(worker);
    all.insert(all.end(), mine.begin(), mine.end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

// The q-quantile (0..1) of a sorted list; 0 when it is empty.
inline std::uint32_t quantile(const std::vector<std::uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  return sorted[std::min(sorted.size() - 1,
                         static_cast<std::size_t>(q * static_cast<double>(sorted.size())))];
}

}  // namespace poolkit::bench
