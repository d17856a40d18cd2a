#include "demo_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace poolkit::cli {
namespace {

std::string escape_html(std::string_view text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::size_t parse_size(const std::string& text, const std::string& whole) {
  if (text.empty() ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      text.size() > 6)
    throw std::invalid_argument(
        fmt::format("--sweep {:?}: {:?} is not a pool size; expected FROM:TO[:STEP] with whole "
                    "numbers, e.g. 1:32",
                    whole, text));
  return std::stoul(text);
}

double ratio(double a, double b) {
  return b > 0 ? a / b : 0.0;
}

// ----- SVG charts ------------------------------------------------------------------------------

constexpr int kWidth = 560, kHeight = 300, kLeft = 64, kRight = 64, kTop = 30, kBottom = 46;

// The axis top, chosen so its quarters (the grid lines) are round numbers too.
double nice_ceiling(double value) {
  if (value <= 0) return 1;
  const double magnitude = std::pow(10.0, std::floor(std::log10(value)));
  for (const double step : {1.0, 2.0, 4.0, 8.0, 10.0})
    if (value <= step * magnitude) return step * magnitude;
  return 10 * magnitude;
}

std::string axis_label(double value) {
  if (value >= 1e6) return fmt::format("{:.3g}M", value / 1e6);
  if (value >= 1e3) return fmt::format("{:.3g}k", value / 1e3);
  return fmt::format("{:.3g}", value);
}

std::string sweep_chart(const LayerResult& layer) {
  const auto& points = layer.sweep;
  if (points.empty()) return "<p>No sweep was run.</p>";
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  double max_ops = 0, max_p99 = 0;
  for (const auto& p : points) {
    max_ops = std::max(max_ops, p.report.ops_per_sec());
    max_p99 = std::max(max_p99, static_cast<double>(p.report.latency_us_p99) / 1000.0);
  }
  max_ops = nice_ceiling(max_ops);
  max_p99 = nice_ceiling(max_p99);
  // Pool sizes on a log2 axis, as sweeps usually double; wide enough to show the recommended
  // size, which is usually just past the largest size measured.
  const std::size_t largest = std::max(points.back().pool_size, layer.recommended_size);
  const double lo =
      std::log2(static_cast<double>(std::max<std::size_t>(points.front().pool_size, 1)));
  const double hi = std::log2(static_cast<double>(std::max<std::size_t>(largest, 1)));
  auto x_of = [&](std::size_t size) {
    const double v = std::log2(static_cast<double>(std::max<std::size_t>(size, 1)));
    return kLeft + (hi > lo ? (v - lo) / (hi - lo) : 0.5) * plot_w;
  };
  auto y_ops = [&](double ops) { return kTop + plot_h - ops / max_ops * plot_h; };
  auto y_p99 = [&](double ms) { return kTop + plot_h - ms / max_p99 * plot_h; };

  std::string svg = fmt::format(
      R"(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{} pool-size sweep">)",
      kWidth, kHeight, kWidth, kHeight, layer.layer);
  svg += fmt::format(R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#fafafa" stroke="#ccc"/>)",
                     kLeft, kTop, plot_w, plot_h);
  for (int i = 0; i <= 4; ++i) {
    const double y = kTop + plot_h * i / 4.0;
    svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{:.1f}" y2="{:.1f}" stroke="#e4e4e4"/>)", kLeft,
                       kLeft + plot_w, y, y);
    svg += fmt::format(
        R"(<text x="{}" y="{:.1f}" font-size="11" text-anchor="end" fill="#1f6fb2">{}</text>)",
        kLeft - 6, y + 4, axis_label(max_ops * (4 - i) / 4.0));
    svg += fmt::format(R"(<text x="{}" y="{:.1f}" font-size="11" fill="#c2410c">{:.3g}</text>)",
                       kLeft + plot_w + 6, y + 4, max_p99 * (4 - i) / 4.0);
  }
  std::string ops_line, p99_line;
  for (const auto& p : points) {
    const double x = x_of(p.pool_size);
    ops_line += fmt::format("{:.1f},{:.1f} ", x, y_ops(p.report.ops_per_sec()));
    p99_line += fmt::format("{:.1f},{:.1f} ", x,
                            y_p99(static_cast<double>(p.report.latency_us_p99) / 1000.0));
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle">{}</text>)",
                       x, kTop + plot_h + 16, p.pool_size);
  }
  // Anchored so a label stays inside the chart at either end of the axis.
  auto anchor_at = [&](double x) {
    return x > kLeft + plot_w * 0.8 ? "end" : x < kLeft + plot_w * 0.2 ? "start" : "middle";
  };
  const std::size_t best = layer.choice.best_size;
  if (best > 0 && best != layer.recommended_size) {
    const double x = x_of(best);
    svg += fmt::format(
        R"(<line class="best" x1="{:.1f}" x2="{:.1f}" y1="{}" y2="{}" stroke="#6b7280" stroke-dasharray="2,3" stroke-width="2"/>)",
        x, x, kTop, kTop + plot_h);
    svg += fmt::format(
        R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="{}" fill="#6b7280">best {}</text>)",
        x, kTop + 14, anchor_at(x), best);
  }
  if (layer.recommended_size > 0) {
    const double x = x_of(layer.recommended_size);
    svg += fmt::format(
        R"(<line x1="{:.1f}" x2="{:.1f}" y1="{}" y2="{}" stroke="#15803d" stroke-dasharray="5,4" stroke-width="2"/>)",
        x, x, kTop, kTop + plot_h);
    svg += fmt::format(
        R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="{}" fill="#15803d">recommended {}{}</text>)",
        x, kTop - 8, anchor_at(x), layer.recommended_size,
        best == layer.recommended_size ? " (best throughput)" : "");
    const bool measured = std::any_of(points.begin(), points.end(), [&](const SweepPoint& p) {
      return p.pool_size == layer.recommended_size;
    });
    if (!measured)
      svg += fmt::format(
          R"(<text x="{:.1f}" y="{}" font-size="11" text-anchor="middle" fill="#15803d">{}</text>)",
          x, kTop + plot_h + 16, layer.recommended_size);
  }
  svg += fmt::format(
      R"(<polyline class="series-ops" points="{}" fill="none" stroke="#1f6fb2" stroke-width="2.5"/>)",
      ops_line);
  svg += fmt::format(
      R"(<polyline class="series-p99" points="{}" fill="none" stroke="#c2410c" stroke-width="2.5"/>)",
      p99_line);
  for (const auto& p : points) {
    svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="#1f6fb2"/>)",
                       x_of(p.pool_size), y_ops(p.report.ops_per_sec()));
    svg += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="3.5" fill="#c2410c"/>)",
                       x_of(p.pool_size),
                       y_p99(static_cast<double>(p.report.latency_us_p99) / 1000.0));
  }
  svg += fmt::format(
      R"(<text x="{}" y="{}" font-size="12" text-anchor="middle">pool size (concurrency {})</text>)",
      kLeft + plot_w / 2, kHeight - 8, layer.concurrency);
  svg += fmt::format(
      R"~(<text x="14" y="{}" font-size="12" fill="#1f6fb2" transform="rotate(-90 14 {})" text-anchor="middle">ops/s</text>)~",
      kTop + plot_h / 2, kTop + plot_h / 2);
  svg += fmt::format(
      R"~(<text x="{}" y="{}" font-size="12" fill="#c2410c" transform="rotate(90 {} {})" text-anchor="middle">p99 ms</text>)~",
      kWidth - 12, kTop + plot_h / 2, kWidth - 12, kTop + plot_h / 2);
  return svg + "</svg>";
}

std::string comparison_chart(const LayerResult& layer) {
  const double pooled = layer.pooled.ops_per_sec(), recreated = layer.recreated.ops_per_sec();
  const double top = nice_ceiling(std::max(pooled, recreated));
  // Bars, then their figures in a column of their own, so a full-length bar never hides them.
  const int w = 480, h = 150, bar_left = 90, bar_w = 220;
  std::string svg = fmt::format(
      R"(<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="{} pooled vs re-created">)",
      w, h, w, h, layer.layer);
  const std::pair<const char*, const BenchReport*> rows[] = {{"pooled", &layer.pooled},
                                                             {"re-created", &layer.recreated}};
  int y = 20;
  for (const auto& [label, report] : rows) {
    const double length = std::max(top > 0 ? report->ops_per_sec() / top * bar_w : 0, 1.0);
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>)",
                       bar_left - 8, y + 20, label);
    svg += fmt::format(
        R"(<rect x="{}" y="{}" width="{}" height="30" fill="#f3f4f6"/><rect class="bar" x="{}" y="{}" width="{:.1f}" height="30" fill="{}"/>)",
        bar_left, y, bar_w, bar_left, y, length, label[0] == 'p' ? "#1f6fb2" : "#9ca3af");
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="12">{} ops/s, p99 {:.2f} ms</text>)",
                       bar_left + bar_w + 8, y + 20, axis_label(report->ops_per_sec()),
                       static_cast<double>(report->latency_us_p99) / 1000.0);
    y += 45;
  }
  svg += fmt::format(
      R"(<text x="{}" y="{}" font-size="13" font-weight="bold">pooled: {:.1f}× the throughput</text>)",
      bar_left, h - 18, ratio(pooled, recreated));
  return svg + "</svg>";
}

std::string report_row(const char* label, const BenchReport& r) {
  return fmt::format(
      "<tr><td>{}</td><td>{:.0f}</td><td>{:.2f}</td><td>{:.2f}</td><td>{}</td><td>{}</td></tr>",
      label, r.ops_per_sec(), static_cast<double>(r.latency_us_p50) / 1000.0,
      static_cast<double>(r.latency_us_p99) / 1000.0, r.connections_opened, r.error_count());
}

double p99_ms(const BenchReport& report) {
  return static_cast<double>(report.latency_us_p99) / 1000.0;
}

std::string sizes_measured(const std::vector<SweepPoint>& sweep) {
  std::vector<std::size_t> sizes;
  for (const auto& p : sweep) sizes.push_back(p.pool_size);
  std::sort(sizes.begin(), sizes.end());
  return fmt::format("{}", fmt::join(sizes, " "));
}

}  // namespace

SizeChoice choose_pool_size(const std::vector<SweepPoint>& sweep) {
  SizeChoice choice;
  if (sweep.empty()) return choice;
  std::vector<const SweepPoint*> by_size;
  for (const auto& p : sweep) by_size.push_back(&p);
  std::sort(by_size.begin(), by_size.end(),
            [](const SweepPoint* a, const SweepPoint* b) { return a->pool_size < b->pool_size; });
  choice.lowest_p99_ms = p99_ms(by_size.front()->report);
  for (const SweepPoint* p : by_size) {
    if (p->report.ops_per_sec() > choice.best_ops_per_sec) {
      choice.best_ops_per_sec = p->report.ops_per_sec();
      choice.best_size = p->pool_size;
    }
    choice.lowest_p99_ms = std::min(choice.lowest_p99_ms, p99_ms(p->report));
  }
  if (choice.best_size == 0) choice.best_size = by_size.front()->pool_size;  // nothing succeeded
  const double enough_ops = kKneeThroughputShare * choice.best_ops_per_sec;
  const double p99_bound = kKneeP99Factor * choice.lowest_p99_ms;
  const SweepPoint* fallback = nullptr;  // lowest p99 among those with enough throughput
  for (const SweepPoint* p : by_size) {
    if (p->report.ops_per_sec() < enough_ops) continue;
    if (p99_ms(p->report) <= p99_bound) {
      choice.size = p->pool_size;
      return choice;
    }
    if (!fallback || p99_ms(p->report) < p99_ms(fallback->report)) fallback = p;
  }
  choice.met_both_bounds = false;
  choice.size = fallback ? fallback->pool_size : choice.best_size;
  return choice;
}

std::string explain_choice(const SizeChoice& choice) {
  if (choice.size == 0) return "no sweep was run";
  const int share = static_cast<int>(std::lround(kKneeThroughputShare * 100));
  if (!choice.met_both_bounds)
    return fmt::format(
        "no size reached {}% of the best throughput with p99 within {}× the lowest p99, so {} is "
        "the size with the lowest p99 among those within {}% of the best throughput",
        share, kKneeP99Factor, choice.size, share);
  if (choice.size == choice.best_size)
    return fmt::format(
        "{} has the best throughput, and no smaller size reached {}% of it with p99 within {}× "
        "the lowest p99",
        choice.size, share, kKneeP99Factor);
  return fmt::format(
      "{} is the smallest size that reaches {}% of the best throughput with p99 within {}× the "
      "lowest p99; larger sizes add little but connections",
      choice.size, share, kKneeP99Factor);
}

std::size_t recommended_pool_size(std::size_t peak_in_use) {
  const auto with_bursts =
      static_cast<std::size_t>(std::ceil(static_cast<double>(peak_in_use) * 1.2));
  return std::max<std::size_t>({with_bursts, peak_in_use + 1, 1});
}

std::vector<std::size_t> parse_sweep(const std::string& text) {
  const auto first = text.find(':');
  if (first == std::string::npos)
    throw std::invalid_argument(
        fmt::format("--sweep {:?}: expected FROM:TO[:STEP], e.g. 1:32 or 2:20:2", text));
  const auto second = text.find(':', first + 1);
  const std::size_t from = parse_size(text.substr(0, first), text);
  const std::size_t to = parse_size(
      text.substr(first + 1, second == std::string::npos ? std::string::npos : second - first - 1),
      text);
  const std::size_t step =
      second == std::string::npos ? 0 : parse_size(text.substr(second + 1), text);
  if (from < 1 || to < from)
    throw std::invalid_argument(fmt::format("--sweep {:?}: expected 1 <= FROM <= TO", text));
  if (second != std::string::npos && step < 1)
    throw std::invalid_argument(fmt::format("--sweep {:?}: STEP must be at least 1", text));
  std::vector<std::size_t> sizes;
  for (std::size_t size = from; size <= to && sizes.size() < 64;
       size = step > 0 ? size + step : size * 2)
    sizes.push_back(size);
  if (sizes.back() != to && sizes.size() < 64) sizes.push_back(to);
  return sizes;
}

// The sweep behind the recommendation: what was measured, the best figures, and why this size.
std::vector<std::pair<std::string, std::string>> sizing_lines(const LayerResult& l) {
  if (l.sweep.empty() || l.choice.size == 0) return {};
  return {{"pool sizes measured", sizes_measured(l.sweep)},
          {"best throughput", fmt::format("{:.0f} ops/s (pool size {})", l.choice.best_ops_per_sec,
                                          l.choice.best_size)},
          {"lowest p99", fmt::format("{:.2f} ms", l.choice.lowest_p99_ms)},
          {"recommended",
           fmt::format("{}={}: {}", l.size_setting, l.choice.size, explain_choice(l.choice))}};
}

std::string render_text_report(const std::vector<LayerResult>& layers) {
  std::string out = "\npoolkit demo: re-created connections vs the pool\n\n";
  out += fmt::format("{:<10} {:>12} {:>12} {:>8} {:>10} {:>10} {:>8} {:>8}  {}\n", "layer",
                     "re-created/s", "pooled/s", "ratio", "p50 ms", "p99 ms", "opened", "errors",
                     "recommended size");
  for (const auto& l : layers) {
    if (!l.failure.empty()) {
      out += fmt::format("{:<10} failed: {}\n", l.layer, l.failure);
      continue;
    }
    // Only a sweep recommends a size; the TLS rows compare re-created and pooled alone.
    const std::string recommended =
        l.sweep.empty() ? "-" : fmt::format("{}={}", l.size_setting, l.recommended_size);
    out += fmt::format("{:<10} {:>12.0f} {:>12.0f} {:>7.1f}× {:>10.2f} {:>10.2f} {:>8} {:>8}  {}\n",
                       l.layer, l.recreated.ops_per_sec(), l.pooled.ops_per_sec(),
                       ratio(l.pooled.ops_per_sec(), l.recreated.ops_per_sec()),
                       static_cast<double>(l.pooled.latency_us_p50) / 1000.0,
                       static_cast<double>(l.pooled.latency_us_p99) / 1000.0,
                       l.pooled.connections_opened, l.pooled.error_count(), recommended);
  }
  for (const auto& l : layers) {
    const auto sizing = sizing_lines(l);
    if (l.details.empty() && sizing.empty()) continue;
    out += fmt::format("\n{}:\n", l.layer);
    for (const auto& [key, value] : sizing) out += fmt::format("  {:<22} {}\n", key, value);
    for (const auto& [key, value] : l.details) out += fmt::format("  {:<22} {}\n", key, value);
  }
  return out;
}

std::string render_html_report(const std::vector<LayerResult>& layers,
                               const std::string& generated_at) {
  std::string html = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>poolkit demo report</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
h1{font-size:1.6rem} h2{margin-top:2.5rem;border-bottom:1px solid #ddd}
.row{display:grid;grid-template-columns:minmax(560px,auto) minmax(0,1fr);gap:2rem;align-items:start}
td{overflow-wrap:anywhere} td:first-child{white-space:nowrap}
table{border-collapse:collapse;font-size:.9rem} td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:right}
td:first-child,th:first-child{text-align:left} .note{color:#555;font-size:.9rem}
.legend span{display:inline-block;width:14px;height:4px;margin:0 .3rem 2px 1rem;vertical-align:middle}
</style></head><body>
<h1>poolkit demo report</h1>
)";
  html += fmt::format(
      "<p class=\"note\">Generated {}. Each layer ran the same workload twice: a new connection "
      "per operation, then "
      "through the pool; then once per pool size (the sweep). Recommended size = the knee of the "
      "sweep: the smallest pool size that reaches {}% of the best throughput with a p99 of at "
      "most {}× the lowest p99 measured. To size from production metrics instead, take the peak "
      "in use + about 20% (docs/tuning.md).</p>\n",
      escape_html(generated_at), std::lround(kKneeThroughputShare * 100), kKneeP99Factor);
  for (const auto& l : layers) {
    html += fmt::format("<section id=\"{0}\"><h2>{0}</h2><p class=\"note\">{1}</p>\n",
                        escape_html(l.layer), escape_html(l.url));
    if (!l.failure.empty()) {
      html += fmt::format("<p><strong>Could not run:</strong> {}</p></section>\n",
                          escape_html(l.failure));
      continue;
    }
    html +=
        "<div class=\"row\"><div><h3>Pool-size sweep</h3>"
        "<div class=\"legend\"><span style=\"background:#1f6fb2\"></span>throughput (ops/s)"
        "<span style=\"background:#c2410c\"></span>p99 latency (ms)"
        "<span style=\"background:#15803d\"></span>recommended size"
        "<span style=\"background:#6b7280\"></span>best throughput</div>";
    html += sweep_chart(l);
    html += "</div><div>";
    if (l.recreated.elapsed_s > 0) {  // a sweep alone has nothing to compare
      html += "<h3>Pooled vs re-created</h3>";
      html += comparison_chart(l);
      html +=
          "<table><tr><th></th><th>ops/s</th><th>p50 ms</th><th>p99 ms</th><th>connections "
          "opened</th><th>errors</th></tr>";
      html += report_row("re-created", l.recreated);
      html += report_row("pooled", l.pooled);
      html += "</table>";
    }
    if (l.choice.size > 0) {
      html += fmt::format(
          "<p>Recommended <code>{}={}</code>: {}. Pool sizes measured: {}; best throughput {:.0f} "
          "ops/s at {}; lowest p99 {:.2f} ms.</p>",
          escape_html(l.size_setting), l.choice.size, escape_html(explain_choice(l.choice)),
          sizes_measured(l.sweep), l.choice.best_ops_per_sec, l.choice.best_size,
          l.choice.lowest_p99_ms);
    } else if (l.recommended_size > 0) {
      html += fmt::format("<p>Recommended <code>{}={}</code> (peak {} in use + 20%).</p>",
                          escape_html(l.size_setting), l.recommended_size, l.peak_in_use);
    }
    if (!l.details.empty()) {
      html += "<table>";
      for (const auto& [key, value] : l.details)
        html += fmt::format("<tr><td>{}</td><td style=\"text-align:left\">{}</td></tr>",
                            escape_html(key), escape_html(value));
      html += "</table>";
    }
    html += "</div></div></section>\n";
  }
  return html + "</body></html>\n";
}

}  // namespace poolkit::cli
