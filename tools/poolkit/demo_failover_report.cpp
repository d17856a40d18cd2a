// The failover demo's analysis and text report (see demo_failover.hpp).

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "demo_failover.hpp"

namespace poolkit::cli {
namespace {

constexpr int kOpsBarWidth = 40;
constexpr int kErrorBarWidth = 20;
// The first second warms the pools up (connections opened, slot map read): not the baseline.
constexpr std::chrono::milliseconds kWarmUp{1000};

std::size_t bucket_at(std::chrono::milliseconds offset) {
  return static_cast<std::size_t>(offset / kFailoverBucket);
}

double seconds(std::chrono::milliseconds offset) {
  return static_cast<double>(offset.count()) / 1000.0;
}

// A bar of `value` out of `top` on `width` characters; at least one for any non-zero value.
std::string bar(std::uint64_t value, std::uint64_t top, int width, char mark) {
  if (value == 0 || top == 0) return {};
  const double share = static_cast<double>(value) / static_cast<double>(top);
  const int length = std::clamp(static_cast<int>(std::lround(share * width)), 1, width);
  return std::string(static_cast<std::size_t>(length), mark);
}

std::string chart(const FailoverRun& run, const FailoverAnalysis& analysis) {
  std::uint64_t top_ops = 0, top_errors = 0;
  for (const auto& b : run.buckets) {
    top_ops = std::max(top_ops, b.ops);
    top_errors = std::max(top_errors, b.errors);
  }
  const std::size_t killed = bucket_at(run.killed_at);
  std::string out = fmt::format("  {:>6}  {:>7}  {:>6}  {:<{}}  {}\n", "time s", "ops", "errors",
                                "ops (#)", kOpsBarWidth, "errors (x)");
  for (std::size_t i = 0; i < run.buckets.size(); ++i) {
    const FailoverBucket& b = run.buckets[i];
    std::string note;
    if (i == killed) note = fmt::format("  <- master {} killed", run.victim);
    if (analysis.recovered_bucket && i == *analysis.recovered_bucket)
      note += fmt::format("  <- recovered (>= {:.0f}% of before)", kRecoveredShare * 100);
    std::string line =
        fmt::format("  {:>6.2f}  {:>7}  {:>6}  {:<{}}  {}{}", seconds(i * kFailoverBucket), b.ops,
                    b.errors, bar(b.ops, top_ops, kOpsBarWidth, '#'), kOpsBarWidth,
                    bar(b.errors, top_errors, kErrorBarWidth, 'x'), note);
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  return out;
}

std::string burst(const FailoverRun& run, const FailoverAnalysis& analysis) {
  if (analysis.errors == 0) return "  errors            none\n";
  std::string out = fmt::format("  errors            {} in all", analysis.errors);
  for (const auto& [kind, count] : run.errors_by_kind) out += fmt::format(", {} {}", count, kind);
  out += "\n";
  if (run.first_error && run.last_error) {
    out += fmt::format(
        "  error burst       first at {:.2f} s, last at {:.2f} s ({:+.2f} s and {:+.2f} s from "
        "the kill)\n",
        seconds(*run.first_error), seconds(*run.last_error),
        seconds(*run.first_error - run.killed_at), seconds(*run.last_error - run.killed_at));
  }
  for (const auto& [kind, message] : run.first_error_of_kind)
    out += fmt::format("  first {:<11} {}\n", kind + ":", message);
  return out;
}

std::string counters(const CounterCheck& check) {
  std::string out = fmt::format("  counters          {} of {} equal to their successful INCRs",
                                check.exact, check.counters);
  if (check.failed_ran > 0)
    out += fmt::format(
        "; {} one or more above, by at most their failed INCRs (an INCR whose "
        "master died before replying had run)",
        check.failed_ran);
  out += fmt::format("\n  lost writes       {}", check.lost);
  if (check.lost > 0)
    out +=
        " (acknowledged by the master just before it died, not yet on its replica: Redis "
        "replicates asynchronously, so a failover can drop the last writes)";
  out += fmt::format("\n  doubled writes    {}\n", check.doubled);
  if (!check.first_mismatch.empty())
    out += fmt::format("  first mismatch    {}\n", check.first_mismatch);
  return out;
}

}  // namespace

FailoverAnalysis analyse_failover(const FailoverRun& run) {
  FailoverAnalysis analysis;
  for (const auto& b : run.buckets) analysis.errors += b.errors;
  const std::size_t killed = std::min(bucket_at(run.killed_at), run.buckets.size());
  // Whole buckets before the kill, past the warm-up (or all of them when the kill comes early).
  std::size_t first = std::min(bucket_at(kWarmUp), killed > 1 ? killed - 1 : 0);
  std::uint64_t ops = 0;
  for (std::size_t i = first; i < killed; ++i) ops += run.buckets[i].ops;
  if (killed > first)
    analysis.baseline_ops_per_bucket =
        static_cast<double>(ops) / static_cast<double>(killed - first);
  // Recovery is looked for once the failure showed (the first error after the kill), or right
  // after the kill's bucket when no caller ever failed.
  std::size_t from = killed + 1;
  if (run.first_error && *run.first_error >= run.killed_at)
    from = std::max(from, bucket_at(*run.first_error) + 1);
  const double target = kRecoveredShare * analysis.baseline_ops_per_bucket;
  for (std::size_t i = from; i < run.buckets.size() && analysis.baseline_ops_per_bucket > 0; ++i) {
    if (static_cast<double>(run.buckets[i].ops) >= target) {
      analysis.recovered_bucket = i;
      analysis.recovery = i * kFailoverBucket - run.killed_at;
      break;
    }
  }
  return analysis;
}

std::string render_failover_report(const FailoverRun& run) {
  const FailoverAnalysis analysis = analyse_failover(run);
  const std::string where = run.topology == "cluster" ? "counters on every master's slots"
                                                      : "counters on the master the sentinels name";
  std::string out = fmt::format(
      "\npoolkit demo --{}: a master killed under load\n\n"
      "  {}\n  {} threads of INCR/GET over {} {} for {:.1f} s; master {} killed at {:.2f} "
      "s{}\n\n",
      run.topology, run.url, run.threads, run.counters.counters, where, seconds(run.duration),
      run.victim, seconds(run.killed_at),
      run.promoted.empty() ? "" : fmt::format("; {} took over", run.promoted));
  out += fmt::format("per {} ms:\n", kFailoverBucket.count());
  out += chart(run, analysis);
  out += "\n";
  out += fmt::format("  before the kill   {:.0f} ops per {} ms\n", analysis.baseline_ops_per_bucket,
                     kFailoverBucket.count());
  out += burst(run, analysis);
  if (analysis.recovery) {
    out += fmt::format(
        "  recovery          {:.2f} s from the kill to the first {} ms at >= {:.0f}% of the "
        "throughput before it\n",
        seconds(*analysis.recovery), kFailoverBucket.count(), kRecoveredShare * 100);
  } else {
    out += fmt::format(
        "  recovery          not within the run: no {} ms after the kill reached "
        ">= {:.0f}% of the throughput before it\n",
        kFailoverBucket.count(), kRecoveredShare * 100);
  }
  out += counters(run.counters);
  return out;
}

}  // namespace poolkit::cli
