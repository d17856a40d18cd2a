#include "demo_report.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

using poolkit::cli::parse_sweep;

TEST(Sweep, DoublesFromFromToToAndEndsOnTo) {
  EXPECT_EQ(parse_sweep("1:32"), (std::vector<std::size_t>{1, 2, 4, 8, 16, 32}));
  EXPECT_EQ(parse_sweep("3:20"), (std::vector<std::size_t>{3, 6, 12, 20}));
  EXPECT_EQ(parse_sweep("2:10:4"), (std::vector<std::size_t>{2, 6, 10}));
  EXPECT_EQ(parse_sweep("5:5"), (std::vector<std::size_t>{5}));
}

TEST(Sweep, BadRangesNameWhatIsExpected) {
  for (const char* bad : {"", "8", "0:4", "8:4", "1:x", "1:4:0", "-1:4", "1:4:2:1"}) {
    try {
      parse_sweep(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::invalid_argument& error) {
      EXPECT_NE(std::string(error.what()).find("--sweep"), std::string::npos) << error.what();
    }
  }
}

// The rule for sizing from production metrics (docs/tuning.md); bench --sweep uses it too.
TEST(RecommendedPoolSize, IsThePeakPlusAboutTwentyPercent) {
  EXPECT_EQ(poolkit::cli::recommended_pool_size(0), 1u);
  EXPECT_EQ(poolkit::cli::recommended_pool_size(1), 2u);
  EXPECT_EQ(poolkit::cli::recommended_pool_size(10), 12u);
  EXPECT_EQ(poolkit::cli::recommended_pool_size(32), 39u);
}

// ----- the knee: the size the demo recommends from its sweep ------------------------------------

namespace {

using poolkit::cli::choose_pool_size;
using poolkit::cli::SweepPoint;

struct Measured {
  std::size_t size;
  double ops_per_sec;
  double p99_ms;
};

std::vector<SweepPoint> sweep_of(std::initializer_list<Measured> measured) {
  std::vector<SweepPoint> sweep;
  for (const Measured& m : measured) {
    SweepPoint point{.pool_size = m.size};
    point.report.elapsed_s = 2;
    point.report.ops = static_cast<std::uint64_t>(m.ops_per_sec * 2);
    point.report.latency_us_p99 = static_cast<std::uint64_t>(m.p99_ms * 1000);
    sweep.push_back(point);
  }
  return sweep;
}

}  // namespace

TEST(KneeSelection, AFlatCurveRecommendsTheSmallestSize) {
  const auto choice =
      choose_pool_size(sweep_of({{1, 1000, 1.0}, {2, 1010, 1.0}, {4, 990, 1.1}, {8, 1005, 1.0}}));
  EXPECT_EQ(choice.size, 1u);
  EXPECT_EQ(choice.best_size, 2u);
  EXPECT_TRUE(choice.met_both_bounds);
}

TEST(KneeSelection, RisingThenFlatRecommendsWhereItFlattens) {
  // 95% of the best (1000) is 950: 8 is the first size to reach it.
  const auto choice = choose_pool_size(sweep_of({{1, 200, 8.0},
                                                 {2, 400, 4.0},
                                                 {4, 800, 2.0},
                                                 {8, 960, 1.2},
                                                 {16, 1000, 1.0},
                                                 {32, 990, 1.0}}));
  EXPECT_EQ(choice.size, 8u);
  EXPECT_EQ(choice.best_size, 16u);
  EXPECT_DOUBLE_EQ(choice.best_ops_per_sec, 1000);
  EXPECT_DOUBLE_EQ(choice.lowest_p99_ms, 1.0);
}

TEST(KneeSelection, AP99BlowingUpAtLargeSizesIsNotRecommended) {
  // The best throughput is at 16, but its p99 is 4× the lowest; 4 reaches 95% of it at the
  // lowest p99. The order of the points does not matter.
  const auto choice = choose_pool_size(sweep_of({{16, 1000, 8.0},
                                                 {1, 300, 6.0},
                                                 {32, 960, 20.0},
                                                 {4, 960, 2.0},
                                                 {2, 600, 3.0},
                                                 {8, 980, 2.5}}));
  EXPECT_EQ(choice.size, 4u);
  EXPECT_EQ(choice.best_size, 16u);
  EXPECT_TRUE(choice.met_both_bounds);
}

TEST(KneeSelection, AP99OutsideTheBoundWhenThroughputIsReachedIsTheLowestP99Compromise) {
  // Only 8 and 16 reach 95% of the best, both with p99 above 1.5× the lowest (1 ms at size 1).
  const auto choice =
      choose_pool_size(sweep_of({{1, 200, 1.0}, {2, 500, 1.2}, {8, 980, 3.0}, {16, 1000, 5.0}}));
  EXPECT_EQ(choice.size, 8u);
  EXPECT_FALSE(choice.met_both_bounds);
  EXPECT_NE(poolkit::cli::explain_choice(choice).find("no size reached 95%"), std::string::npos);
}

TEST(KneeSelection, ASinglePointIsRecommended) {
  const auto choice = choose_pool_size(sweep_of({{6, 500, 3.0}}));
  EXPECT_EQ(choice.size, 6u);
  EXPECT_EQ(choice.best_size, 6u);
  EXPECT_TRUE(choice.met_both_bounds);
  EXPECT_NE(poolkit::cli::explain_choice(choice).find("best throughput"), std::string::npos);
}

TEST(KneeSelection, AnEmptySweepRecommendsNothing) {
  EXPECT_EQ(choose_pool_size({}).size, 0u);
}

TEST(KneeSelection, ReportsSayWhichSizesWereMeasuredAndWhyAndTheChartMarksTheBest) {
  poolkit::cli::LayerResult layer{.layer = "mongo", .concurrency = 16};
  layer.size_setting = "MONGODB_MAX_POOL_SIZE";
  layer.pooled.ops = 100;
  layer.pooled.elapsed_s = 1;
  layer.sweep =
      sweep_of({{1, 300, 6.0}, {2, 600, 3.0}, {4, 960, 2.0}, {8, 980, 2.5}, {16, 1000, 8.0}});
  layer.choice = choose_pool_size(layer.sweep);
  layer.recommended_size = layer.choice.size;
  const std::string text = poolkit::cli::render_text_report({layer});
  EXPECT_NE(text.find("MONGODB_MAX_POOL_SIZE=4"), std::string::npos) << text;
  EXPECT_NE(text.find("1 2 4 8 16"), std::string::npos) << text;
  EXPECT_NE(text.find("1000 ops/s (pool size 16)"), std::string::npos) << text;
  EXPECT_NE(text.find("2.00 ms"), std::string::npos) << text;
  EXPECT_NE(text.find("smallest size that reaches 95% of the best throughput"), std::string::npos)
      << text;
  const std::string html = poolkit::cli::render_html_report({layer}, "now");
  EXPECT_NE(html.find("recommended 4<"), std::string::npos);
  EXPECT_NE(html.find("best 16<"), std::string::npos);
  EXPECT_NE(html.find("class=\"best\""), std::string::npos);
}

TEST(HtmlReport, HasASweepChartWithTheRecommendedSizeAndAComparisonPerLayer) {
  poolkit::cli::LayerResult redis;
  redis.layer = "redis";
  redis.url = "redis://:****@127.0.0.1:1234/0";
  redis.concurrency = 8;
  redis.pooled.ops = 1000;
  redis.pooled.elapsed_s = 1;
  redis.recreated.ops = 100;
  redis.recreated.elapsed_s = 1;
  redis.recommended_size = 10;
  redis.size_setting = "REDIS_MAX_CONNECTIONS";
  for (std::size_t size : {1, 2, 4, 8, 16}) {
    poolkit::cli::SweepPoint point{.pool_size = size};
    point.report.ops = size * 100;
    point.report.elapsed_s = 1;
    point.report.latency_us_p99 = 1000 / size;
    redis.sweep.push_back(point);
  }
  redis.details = {{"server", "<7.0>"}};
  poolkit::cli::LayerResult mongo{.layer = "mongo", .failure = "FerretDB did not start"};
  const std::string html = poolkit::cli::render_html_report({redis, mongo}, "2026-11-26");
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("series-ops"), std::string::npos);
  EXPECT_NE(html.find("series-p99"), std::string::npos);
  EXPECT_NE(html.find("recommended 10"), std::string::npos);
  EXPECT_NE(html.find("10.0× the throughput"), std::string::npos);
  EXPECT_NE(html.find("&lt;7.0&gt;"), std::string::npos);  // escaped
  EXPECT_NE(html.find("FerretDB did not start"), std::string::npos);
  const std::string text = poolkit::cli::render_text_report({redis, mongo});
  EXPECT_NE(text.find("REDIS_MAX_CONNECTIONS=10"), std::string::npos);
  EXPECT_NE(text.find("failed: FerretDB did not start"), std::string::npos);
}

// The recommended size is usually just past the largest size swept (peak + 20%): the axis must
// reach it, with its own tick, rather than draw the marker outside the chart.
TEST(HtmlReport, RecommendedSizePastTheSweepIsInsideTheChartWithATick) {
  poolkit::cli::LayerResult layer{.layer = "http", .concurrency = 4};
  layer.recommended_size = 5;
  for (std::size_t size : {1, 2, 4}) {
    poolkit::cli::SweepPoint point{.pool_size = size};
    point.report.ops = 100;
    point.report.elapsed_s = 1;
    layer.sweep.push_back(point);
  }
  const std::string html = poolkit::cli::render_html_report({layer}, "now");
  const auto marker = html.find("stroke-dasharray");
  ASSERT_NE(marker, std::string::npos);
  const auto x_at = html.find("x1=\"", html.rfind("<line", marker));
  const double x = std::stod(html.substr(x_at + 4));
  EXPECT_LE(x, 560 - 64 + 0.5);  // the plot's right edge
  EXPECT_NE(html.find(">5</text>"), std::string::npos);
}
