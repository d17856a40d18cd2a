#include "bench_runner.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <poolkit/error.hpp>
#include <thread>

#include "latency_histogram.hpp"

using namespace std::chrono_literals;
using poolkit::cli::BenchOptions;

namespace {

BenchOptions quick(int concurrency, double seconds = 0.5) {
  BenchOptions options;
  options.backend = "fake";
  options.concurrency = concurrency;
  options.duration_s = seconds;
  options.progress = false;
  return options;
}

}  // namespace

TEST(LatencyHistogram, QuantilesAreWithinOnePercentAndNeverBelowTheValue) {
  poolkit::cli::LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v) h.record(v);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_EQ(h.max(), 100000u);
  for (double q : {0.5, 0.99, 0.999}) {
    const double exact = q * 100000;
    EXPECT_GE(static_cast<double>(h.quantile(q)), exact);
    EXPECT_LE(static_cast<double>(h.quantile(q)), exact * 1.01);
  }
  EXPECT_EQ(poolkit::cli::LatencyHistogram{}.quantile(0.5), 0u);
}

TEST(BenchRunner, ThreadWorkersCountOperationsAndClassifyErrors) {
  std::atomic<int> calls{0};
  const poolkit::cli::ThreadWorkload workload{
      .make_worker =
          [&](int worker) {
            return std::function<void()>([&calls, worker] {
              std::this_thread::sleep_for(1ms);
              if (calls.fetch_add(1) % 10 == 0 && worker == 0)
                throw poolkit::TimeoutError(poolkit::Backend::redis, "slow");
            });
          },
      .connections_opened = [] { return std::uint64_t{3}; },
  };
  const auto report = poolkit::cli::run_bench(quick(3), workload);
  const auto timeouts = report.errors[static_cast<int>(poolkit::cli::Outcome::timeout)];
  EXPECT_EQ(report.ops + timeouts, static_cast<std::uint64_t>(calls.load()));
  EXPECT_GT(report.ops, 100u);
  EXPECT_GT(report.latency_us_p50, 900u);  // each operation sleeps 1 ms
  EXPECT_EQ(report.connections_opened, 3u);
}

TEST(BenchRunner, RatePacesTheTotalLoad) {
  const poolkit::cli::ThreadWorkload workload{
      .make_worker = [](int) { return std::function<void()>([] {}); }};
  BenchOptions options = quick(4, 1.0);
  options.rate = 200;
  const auto report = poolkit::cli::run_bench(options, workload);
  EXPECT_GE(report.ops, 150u);
  EXPECT_LE(report.ops, 210u);
}

TEST(BenchRunner, AsyncKeepsConcurrencyOperationsInFlight) {
  std::atomic<int> in_flight{0};
  std::atomic<int> most{0};
  const poolkit::cli::AsyncWorkload workload{
      .start =
          [&](std::function<void(std::exception_ptr)> done) {
            const int now = in_flight.fetch_add(1) + 1;
            int seen = most.load();
            while (now > seen && !most.compare_exchange_weak(seen, now)) {
            }
            std::thread([&in_flight, done = std::move(done)] {
              std::this_thread::sleep_for(2ms);
              in_flight.fetch_sub(1);
              done(nullptr);
            }).detach();
          },
  };
  const auto report = poolkit::cli::run_bench(quick(5), workload);
  EXPECT_GT(report.ops, 100u);
  EXPECT_EQ(most.load(), 5);
  EXPECT_EQ(in_flight.load(), 0);
}

TEST(BenchRunner, ClassifiesPoolkitErrorsByCode) {
  using poolkit::cli::classify;
  using poolkit::cli::Outcome;
  EXPECT_EQ(classify(nullptr), Outcome::ok);
  EXPECT_EQ(
      classify(std::make_exception_ptr(poolkit::PoolTimeoutError(poolkit::Backend::redis, "x"))),
      Outcome::pool_timeout);
  EXPECT_EQ(classify(std::make_exception_ptr(poolkit::ConnectError(poolkit::Backend::redis, "x"))),
            Outcome::connect);
  EXPECT_EQ(classify(std::make_exception_ptr(poolkit::ServerError(poolkit::Backend::redis, "x"))),
            Outcome::server);
  EXPECT_EQ(classify(std::make_exception_ptr(std::runtime_error("x"))), Outcome::other);
}
