#pragma once
// What `poolkit demo` (and `poolkit bench --sweep`) measured, and the two ways it is shown: a
// terminal report and a self-contained HTML page with SVG charts (no scripts, no downloads).

#include <cstddef>
#include <string>
#include <vector>

#include "bench_runner.hpp"

namespace poolkit::cli {

struct SweepPoint {
  std::size_t pool_size = 0;
  BenchReport report{};
};

// How a pool size is chosen from a sweep: the knee of the curve, the smallest size that reaches
// kKneeThroughputShare of the best throughput measured with a p99 of at most kKneeP99Factor times
// the lowest p99 measured. Past the knee more connections buy little throughput and cost memory
// on the server, and often latency (contention on the server).
inline constexpr double kKneeThroughputShare = 0.95;
inline constexpr double kKneeP99Factor = 1.5;

struct SizeChoice {
  std::size_t size = 0;       // the recommended size; 0 for an empty sweep
  std::size_t best_size = 0;  // the size with the best throughput
  double best_ops_per_sec = 0;
  double lowest_p99_ms = 0;  // the lowest p99 measured, at any size
  // False when no size met both bounds: then `size` is the size with the lowest p99 among those
  // within kKneeThroughputShare of the best throughput.
  bool met_both_bounds = true;
};

// The knee of a sweep (see kKneeThroughputShare); the sweep need not be sorted.
SizeChoice choose_pool_size(const std::vector<SweepPoint>& sweep);

// Why `choice` was recommended, in one sentence, for the text and HTML reports.
std::string explain_choice(const SizeChoice& choice);

struct LayerResult {
  std::string layer{};  // "redis", "mongo", "http", "http_sync"
  std::string url{};    // redacted
  int concurrency = 0;
  BenchReport recreated{};  // a new connection per operation
  BenchReport pooled{};     // through the pool
  std::vector<SweepPoint> sweep{};
  std::size_t peak_in_use = 0;       // most connections in use at once during the pooled run
  std::size_t recommended_size = 0;  // marked on the chart: the demo's knee, bench's peak + 20%
  SizeChoice choice{};               // the demo's: how recommended_size was chosen from the sweep
  std::string size_setting{};        // the variable that sets the pool size
  std::vector<std::pair<std::string, std::string>> details{};  // health, server version, pool state
  std::string failure{};  // non-empty when the layer could not run
};

// peak + 20%, rounded up, at least peak + 1: the rule for sizing from production metrics (the
// peak seen in a service's own pool gauges), see docs/tuning.md. A demo at fixed concurrency
// would only ever see its concurrency as the peak, so the demo uses choose_pool_size instead.
std::size_t recommended_pool_size(std::size_t peak_in_use);

// The pool sizes FROM:TO[:STEP] stands for ("1:32" doubles: 1 2 4 8 16 32; "2:10:2" steps).
// Throws std::invalid_argument naming what is wrong.
std::vector<std::size_t> parse_sweep(const std::string& text);

std::string render_text_report(const std::vector<LayerResult>& layers);
std::string render_html_report(const std::vector<LayerResult>& layers,
                               const std::string& generated_at);

}  // namespace poolkit::cli
