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

TEST(RecommendedPoolSize, IsThePeakPlusAboutTwentyPercent) {
  EXPECT_EQ(poolkit::cli::recommended_pool_size(0), 1u);
  EXPECT_EQ(poolkit::cli::recommended_pool_size(1), 2u);
  EXPECT_EQ(poolkit::cli::recommended_pool_size(10), 12u);
  EXPECT_EQ(poolkit::cli::recommended_pool_size(32), 39u);
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
