// The failover demo's analysis and chart, on recorded runs made up here.

#include "demo_failover.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using poolkit::cli::analyse_failover;
using poolkit::cli::FailoverRun;
using poolkit::cli::render_failover_report;

namespace {

// 20 buckets (5 s) at 100 ops, a kill at 2.0 s (bucket 8), then `after` from bucket 8 on.
FailoverRun run_with(const std::vector<std::uint64_t>& after) {
  FailoverRun run{.topology = "cluster", .url = "redis://127.0.0.1:1/0", .threads = 4};
  run.duration = 5000ms;
  run.killed_at = 2000ms;
  run.victim = "127.0.0.1:1";
  for (int i = 0; i < 8; ++i) run.buckets.push_back({100, 0});
  for (const auto ops : after) run.buckets.push_back({ops, ops < 90 ? 3u : 0u});
  return run;
}

}  // namespace

TEST(FailoverAnalysis, RecoveryIsTheFirstBucketBackAtNinetyPercentAfterTheErrorsBegan) {
  // The kill's own bucket still reads 95 (the failure shows in the next one): not a recovery.
  FailoverRun run = run_with({95, 0, 0, 40, 89, 90, 100, 100, 100, 100, 100, 100});
  run.first_error = 2300ms;
  const auto analysis = analyse_failover(run);
  EXPECT_DOUBLE_EQ(analysis.baseline_ops_per_bucket, 100.0);  // buckets 4..7, past the warm-up
  ASSERT_TRUE(analysis.recovered_bucket.has_value());
  EXPECT_EQ(*analysis.recovered_bucket, 13u);  // the first at >= 90
  EXPECT_EQ(*analysis.recovery, 1250ms);       // 3.25 s - 2.0 s
  EXPECT_EQ(analysis.errors, 3u * 4);
}

TEST(FailoverAnalysis, NoRecoveryWhenThroughputNeverComesBack) {
  FailoverRun run = run_with({10, 0, 0, 50, 60, 70, 80, 89, 89, 89, 89, 89});
  run.first_error = 2100ms;
  EXPECT_FALSE(analyse_failover(run).recovered_bucket.has_value());
  EXPECT_NE(render_failover_report(run).find("recovery          not within the run"),
            std::string::npos);
}

TEST(FailoverReport, ChartsEveryBucketAndMarksTheKillAndTheRecovery) {
  FailoverRun run = run_with({50, 0, 100, 100, 100, 100, 100, 100, 100, 100, 100, 100});
  run.first_error = 2050ms;
  run.last_error = 2400ms;
  run.errors_by_kind = {{"connect", 6}};
  run.first_error_of_kind = {{"connect", "lost the connection"}};
  run.counters = {.counters = 1024, .exact = 1024};
  const std::string report = render_failover_report(run);
  EXPECT_NE(report.find("<- master 127.0.0.1:1 killed"), std::string::npos) << report;
  EXPECT_NE(report.find("<- recovered"), std::string::npos) << report;
  EXPECT_NE(report.find("recovery          0.50 s"), std::string::npos) << report;
  EXPECT_NE(report.find("6 connect"), std::string::npos) << report;
  EXPECT_NE(report.find("1024 of 1024 equal"), std::string::npos) << report;
  EXPECT_NE(report.find(std::string(40, '#')), std::string::npos) << "full-scale bar\n" << report;
  std::size_t lines = 0;
  for (std::size_t at = report.find("\n    "); at != std::string::npos;
       at = report.find("\n    ", at + 1))
    ++lines;
  EXPECT_EQ(lines, run.buckets.size()) << report;
}
