// The snapshot is kept as prometheus-cpp metric families, so the text exposition comes from
// prometheus-cpp's own serializer; JSON is a second view of the same families.

#include "poolkit/metrics.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace poolkit {

struct MetricsSnapshot::Families {
  std::vector<prometheus::MetricFamily> list;

  prometheus::MetricFamily& family(std::string name, std::string_view help,
                                   prometheus::MetricType type) {
    const auto it =
        std::find_if(list.begin(), list.end(), [&](const auto& f) { return f.name == name; });
    if (it != list.end()) return *it;
    list.push_back(prometheus::MetricFamily{std::move(name), std::string(help), type, {}});
    return list.back();
  }
};

namespace {

std::vector<prometheus::ClientMetric::Label> to_labels(const MetricLabels& labels) {
  std::vector<prometheus::ClientMetric::Label> result;
  for (const auto& [name, value] : labels) result.push_back({name, value});
  return result;
}

prometheus::ClientMetric value_metric(const MetricLabels& labels, prometheus::MetricType type,
                                      double value) {
  prometheus::ClientMetric metric;
  metric.label = to_labels(labels);
  if (type == prometheus::MetricType::Counter)
    metric.counter.value = value;
  else
    metric.gauge.value = value;
  return metric;
}

template <std::size_t N>
prometheus::ClientMetric histogram_metric(const MetricLabels& labels,
                                          const std::array<double, N>& bounds,
                                          const std::uint64_t* cumulative, std::uint64_t count,
                                          double sum) {
  prometheus::ClientMetric metric;
  metric.label = to_labels(labels);
  metric.histogram.sample_count = count;
  metric.histogram.sample_sum = sum;
  for (std::size_t i = 0; i < N; ++i) metric.histogram.bucket.push_back({cumulative[i], bounds[i]});
  metric.histogram.bucket.push_back({count, std::numeric_limits<double>::infinity()});
  return metric;
}

std::string_view type_name(prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    case prometheus::MetricType::Histogram:
      return "histogram";
    default:
      return "untyped";
  }
}

}  // namespace

MetricsSnapshot::MetricsSnapshot() : families_(std::make_unique<Families>()) {}
MetricsSnapshot::MetricsSnapshot(MetricsSnapshot&&) noexcept = default;
MetricsSnapshot& MetricsSnapshot::operator=(MetricsSnapshot&&) noexcept = default;
MetricsSnapshot::~MetricsSnapshot() = default;

void MetricsSnapshot::add_counter(std::string_view name, std::string_view help,
                                  const MetricLabels& labels, double value) {
  auto& f = families_->family("poolkit_" + std::string(name) + "_total", help,
                              prometheus::MetricType::Counter);
  f.metric.push_back(value_metric(labels, prometheus::MetricType::Counter, value));
}

void MetricsSnapshot::add_gauge(std::string_view name, std::string_view help,
                                const MetricLabels& labels, double value) {
  auto& f = families_->family("poolkit_" + std::string(name), help, prometheus::MetricType::Gauge);
  f.metric.push_back(value_metric(labels, prometheus::MetricType::Gauge, value));
}

void MetricsSnapshot::add_pool(std::string_view layer, const PoolStats& s) {
  const MetricLabels base{{"layer", std::string(layer)}, {"pool", s.name}};
  auto with = [&base](const char* key, std::string_view value) {
    MetricLabels labels = base;
    labels[key] = std::string(value);
    return labels;
  };
  add_gauge("pool_connections", "Connections of the pool by state", with("state", "in_use"),
            static_cast<double>(s.in_use));
  add_gauge("pool_connections", "", with("state", "idle"), static_cast<double>(s.idle));
  add_gauge("pool_connections", "", with("state", "connecting"), static_cast<double>(s.connecting));
  add_gauge("pool_waiting", "Callers waiting for a connection", base,
            static_cast<double>(s.waiting));
  add_gauge("pool_max_size", "Most connections the pool may hold", base,
            static_cast<double>(s.max_size));
  add_gauge("pool_min_size", "Connections the pool keeps warm", base,
            static_cast<double>(s.min_size));
  add_gauge("pool_ready", "1 when the pool is ready, 0 when paused or closed", base,
            s.state == PoolState::ready ? 1.0 : 0.0);
  add_counter("pool_connections_created", "Connections opened", base,
              static_cast<double>(s.created));
  for (std::size_t r = 0; r < kCloseReasonCount; ++r)
    add_counter("pool_connections_closed", "Connections closed, by reason",
                with("reason", to_string(static_cast<CloseReason>(r))),
                static_cast<double>(s.closed[r]));
  add_counter("pool_checkouts", "Successful check-outs", base, static_cast<double>(s.checkouts));
  for (std::size_t r = 0; r < kCheckOutFailureCount; ++r)
    add_counter("pool_checkout_failures", "Failed check-outs, by reason",
                with("reason", to_string(static_cast<CheckOutFailure>(r))),
                static_cast<double>(s.checkout_failures[r]));
  add_counter("pool_health_checks", "Health checks before reuse", base,
              static_cast<double>(s.health_checks));
  add_counter("pool_health_check_failures", "Health checks that failed", base,
              static_cast<double>(s.health_check_failures));
  add_counter("pool_leaks_detected", "Leases held past the leak threshold", base,
              static_cast<double>(s.leaks_detected));

  std::array<double, kWaitBucketBoundsUs.size()> bounds{};
  std::array<std::uint64_t, kWaitBucketBoundsUs.size()> cumulative{};
  std::uint64_t running = 0;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    bounds[i] = static_cast<double>(kWaitBucketBoundsUs[i]) / 1e6;
    running += s.wait_buckets[i];
    cumulative[i] = running;
  }
  auto& f = families_->family("poolkit_pool_checkout_wait_seconds",
                              "Time check-outs that had to wait spent in the queue",
                              prometheus::MetricType::Histogram);
  f.metric.push_back(histogram_metric(base, bounds, cumulative.data(), s.waited,
                                      static_cast<double>(s.wait_time_total_us) / 1e6));
}

void MetricsSnapshot::add_operations(std::string_view layer, std::string_view kind,
                                     const std::vector<OperationSnapshot>& operations) {
  for (const OperationSnapshot& op : operations) {
    const MetricLabels labels{{"layer", std::string(layer)},
                              {"kind", std::string(kind)},
                              {"operation", op.name},
                              {"outcome", op.outcome}};
    add_counter("operations", "Operations by name and outcome", labels,
                static_cast<double>(op.count));
    auto& f = families_->family("poolkit_operation_duration_seconds", "Operation durations",
                                prometheus::MetricType::Histogram);
    f.metric.push_back(histogram_metric(labels, kDurationBuckets, op.cumulative.data(), op.count,
                                        op.duration_sum_s));
  }
}

std::string MetricsSnapshot::to_prometheus() const {
  return prometheus::TextSerializer().Serialize(families_->list);
}

std::string MetricsSnapshot::to_json() const {
  nlohmann::ordered_json metrics = nlohmann::ordered_json::array();
  for (const auto& f : families_->list) {
    nlohmann::ordered_json samples = nlohmann::ordered_json::array();
    for (const auto& m : f.metric) {
      nlohmann::ordered_json labels = nlohmann::ordered_json::object();
      for (const auto& l : m.label) labels[l.name] = l.value;
      nlohmann::ordered_json sample{{"labels", labels}};
      if (f.type == prometheus::MetricType::Histogram) {
        sample["count"] = m.histogram.sample_count;
        sample["sum"] = m.histogram.sample_sum;
        nlohmann::ordered_json buckets = nlohmann::ordered_json::array();
        for (const auto& b : m.histogram.bucket)
          buckets.push_back(
              {{"le", std::isinf(b.upper_bound) ? nlohmann::ordered_json("+Inf")
                                                : nlohmann::ordered_json(b.upper_bound)},
               {"count", b.cumulative_count}});
        sample["buckets"] = buckets;
      } else {
        sample["value"] =
            f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
      }
      samples.push_back(sample);
    }
    metrics.push_back(
        {{"name", f.name}, {"type", type_name(f.type)}, {"help", f.help}, {"samples", samples}});
  }
  return nlohmann::ordered_json{{"metrics", metrics}}.dump();
}

}  // namespace poolkit
