#include "bench_runner.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
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
  EXPECT_EQ(
      classify(std::make_exception_ptr(poolkit::CircuitOpenError(poolkit::Backend::http, "x"))),
      Outcome::circuit_open);
  EXPECT_EQ(classify(std::make_exception_ptr(poolkit::ProtocolError(poolkit::Backend::redis, "x"))),
            Outcome::protocol);
  EXPECT_EQ(
      classify(std::make_exception_ptr(poolkit::PoolClosedError(poolkit::Backend::redis, "x"))),
      Outcome::other);
  EXPECT_EQ(classify(std::make_exception_ptr(std::runtime_error("x"))), Outcome::other);
}

namespace {

// A workload whose operations fail in turn with a protocol error, an open circuit, and an error
// that is none of poolkit's; every fourth succeeds.
poolkit::cli::ThreadWorkload failing_in_turn(std::atomic<int>& calls) {
  return {.make_worker = [&calls](int) {
    return std::function<void()>([&calls] {
      std::this_thread::sleep_for(100us);
      switch (calls.fetch_add(1) % 4) {
        case 0:
          throw poolkit::ProtocolError(poolkit::Backend::redis,
                                       "unexpected data from Redis at 127.0.0.1:1");
        case 1:
          throw poolkit::CircuitOpenError(poolkit::Backend::http,
                                          "the circuit for http://127.0.0.1:1 is open");
        case 2:
          throw std::runtime_error("a driver said redis://app:pw-in-message@127.0.0.1:1/0");
        default:
          return;
      }
    });
  }};
}

std::size_t at(poolkit::cli::Outcome outcome) {
  return static_cast<std::size_t>(outcome);
}

}  // namespace

TEST(BenchRunner, ProtocolAndCircuitOpenErrorsAreCountedInTheirOwnFields) {
  using poolkit::cli::Outcome;
  std::atomic<int> calls{0};
  const auto report = poolkit::cli::run_bench(quick(2, 0.3), failing_in_turn(calls));
  const auto protocol = report.errors[at(Outcome::protocol)];
  const auto circuit_open = report.errors[at(Outcome::circuit_open)];
  const auto other = report.errors[at(Outcome::other)];
  EXPECT_GT(protocol, 10u);
  EXPECT_GT(circuit_open, 10u);
  EXPECT_GT(other, 10u);
  EXPECT_EQ(report.ops + protocol + circuit_open + other, static_cast<std::uint64_t>(calls.load()));
  EXPECT_EQ(report.error_examples[at(Outcome::protocol)],
            "unexpected data from Redis at 127.0.0.1:1");
  EXPECT_EQ(report.error_examples[at(Outcome::circuit_open)],
            "the circuit for http://127.0.0.1:1 is open");
  EXPECT_TRUE(report.error_examples[at(Outcome::timeout)].empty());
}

TEST(BenchRunner, TheJsonReportHasEveryErrorFieldAndTheFirstMessageOfEachKindMasked) {
  std::atomic<int> calls{0};
  BenchOptions options = quick(1, 0.2);
  options.url = "redis://app:pw-in-message@127.0.0.1:1/0";
  options.json = true;
  const auto report = poolkit::cli::run_bench(options, failing_in_turn(calls));
  ::testing::internal::CaptureStdout();
  poolkit::cli::print_bench_report(options, report);
  const auto json = nlohmann::json::parse(::testing::internal::GetCapturedStdout());
  for (const char* field :
       {"timeout", "connect", "pool_timeout", "server", "circuit_open", "protocol", "other"})
    EXPECT_TRUE(json["errors"].contains(field)) << field;
  EXPECT_EQ(json["errors"]["protocol"], report.errors[at(poolkit::cli::Outcome::protocol)]);
  EXPECT_EQ(json["errors"]["circuit_open"], report.errors[at(poolkit::cli::Outcome::circuit_open)]);
  EXPECT_EQ(json["error_examples"]["protocol"], "unexpected data from Redis at 127.0.0.1:1");
  EXPECT_EQ(json["error_examples"]["circuit_open"], "the circuit for http://127.0.0.1:1 is open");
  // A message that is not poolkit's is masked with the URL's secrets too.
  const std::string other = json["error_examples"]["other"];
  EXPECT_EQ(other.find("pw-in-message"), std::string::npos) << other;
  EXPECT_NE(other.find("a driver said"), std::string::npos) << other;
  EXPECT_FALSE(json["error_examples"].contains("timeout"));
  EXPECT_EQ(json.dump().find("pw-in-message"), std::string::npos);
}

TEST(BenchRunner, TheTextReportEndsWithTheFirstMessageOfEachKind) {
  std::atomic<int> calls{0};
  BenchOptions options = quick(1, 0.2);
  options.url = "redis://app:pw-in-message@127.0.0.1:1/0";
  const auto report = poolkit::cli::run_bench(options, failing_in_turn(calls));
  ::testing::internal::CaptureStdout();
  poolkit::cli::print_bench_report(options, report);
  const std::string text = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(text.find("circuit_open "), std::string::npos) << text;
  EXPECT_NE(text.find("protocol "), std::string::npos) << text;
  const auto figures = text.find("connections ");
  const auto examples = text.find("first error of each kind");
  ASSERT_NE(examples, std::string::npos) << text;
  EXPECT_GT(examples, figures) << text;
  EXPECT_NE(text.find("unexpected data from Redis at 127.0.0.1:1", examples), std::string::npos)
      << text;
  EXPECT_EQ(text.find("pw-in-message"), std::string::npos);
}

TEST(BenchRunner, AsyncRunsKeepTheFirstMessageOfEachKindToo) {
  using poolkit::cli::Outcome;
  const poolkit::cli::AsyncWorkload workload{
      .start =
          [](std::function<void(std::exception_ptr)> done) {
            std::thread([done = std::move(done)] {
              std::this_thread::sleep_for(1ms);
              done(std::make_exception_ptr(
                  poolkit::ProtocolError(poolkit::Backend::http, "a bad status line")));
            }).detach();
          },
  };
  const auto report = poolkit::cli::run_bench(quick(2, 0.2), workload);
  EXPECT_EQ(report.ops, 0u);
  EXPECT_GT(report.errors[at(Outcome::protocol)], 0u);
  EXPECT_EQ(report.error_examples[at(Outcome::protocol)], "a bad status line");
}
