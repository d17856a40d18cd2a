#pragma once
// One snapshot of metrics from every pool and client, rendered as Prometheus text (exposition
// format 0.0.4) or JSON. Layers contribute plain stats (PoolStats, OperationSnapshot, named
// counters and gauges); nothing here knows a backend. Labels carry layer, pool and operation
// names only, never an address or anything secret. Names are documented in docs/metrics.md.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/operation_stats.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit {

using MetricLabels = std::map<std::string, std::string>;

class MetricsSnapshot {
 public:
  MetricsSnapshot();
  MetricsSnapshot(MetricsSnapshot&&) noexcept;
  MetricsSnapshot& operator=(MetricsSnapshot&&) noexcept;
  ~MetricsSnapshot();

  // poolkit_pool_* for one pool, labelled {layer, pool}.
  void add_pool(std::string_view layer, const PoolStats& stats);
  // poolkit_operations_total and poolkit_operation_duration_seconds, labelled
  // {layer, operation, outcome}. `operation` names what the layer measures ("command",
  // "request"), it becomes the label `kind`.
  void add_operations(std::string_view layer, std::string_view kind,
                      const std::vector<OperationSnapshot>& operations);
  // A layer's own monotonic count (name without the poolkit_ prefix; _total is added).
  void add_counter(std::string_view name, std::string_view help, const MetricLabels& labels,
                   double value);
  // A layer's own current value (name without the poolkit_ prefix).
  void add_gauge(std::string_view name, std::string_view help, const MetricLabels& labels,
                 double value);

  std::string to_prometheus() const;
  // {"metrics": [{"name", "type", "help", "samples": [{"labels": {...}, "value"} |
  //  {"labels", "count", "sum", "buckets": [{"le", "count"}]}]}]}
  std::string to_json() const;

 private:
  struct Families;
  std::unique_ptr<Families> families_;
};

}  // namespace poolkit
