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

struct LayerResult {
  std::string layer{};  // "redis", "mongo", "http", "http_sync"
  std::string url{};    // redacted
  int concurrency = 0;
  BenchReport recreated{};  // a new connection per operation
  BenchReport pooled{};     // through the pool
  std::vector<SweepPoint> sweep{};
  std::size_t peak_in_use = 0;       // most connections in use at once during the pooled run
  std::size_t recommended_size = 0;  // peak + ~20%, at least 1
  std::string size_setting{};        // the variable that sets the pool size
  std::vector<std::pair<std::string, std::string>> details{};  // health, server version, pool state
  std::string failure{};  // non-empty when the layer could not run
};

// peak + 20%, rounded up, at least peak + 1.
std::size_t recommended_pool_size(std::size_t peak_in_use);

// The pool sizes FROM:TO[:STEP] stands for ("1:32" doubles: 1 2 4 8 16 32; "2:10:2" steps).
// Throws std::invalid_argument naming what is wrong.
std::vector<std::size_t> parse_sweep(const std::string& text);

std::string render_text_report(const std::vector<LayerResult>& layers);
std::string render_html_report(const std::vector<LayerResult>& layers,
                               const std::string& generated_at);

}  // namespace poolkit::cli
