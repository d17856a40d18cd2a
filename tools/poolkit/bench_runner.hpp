#pragma once
// The load generator behind every `poolkit bench <layer>`: runs one operation from N workers
// (threads, or N operations kept in flight on an async client) for a duration, optionally paced
// to a total rate (open loop), shows a progress line, and prints one report (text or JSON) with
// the fields every layer shares.

#include <CLI/CLI.hpp>
#include <array>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace poolkit::cli {

struct BenchOptions {
  std::string backend;  // "redis", "http", "mongo"
  std::string url;      // as given; only ever printed redacted
  int concurrency = 1;
  double duration_s = 5.0;
  std::size_t pool_size = 0;  // 0 = the layer's setting
  bool reuse = true;          // false: open and close a connection per operation
  double rate = 0.0;          // total operations per second; 0 = as fast as possible
  bool json = false;
  bool progress = true;  // the live progress line on stderr
  std::string sweep{};   // FROM:TO[:STEP]: run once per pool size instead of once
  std::string html{};    // with --sweep: also write the HTML chart here
};

// The options every `bench <layer>` shares: --concurrency, --duration, --pool-size, --no-reuse,
// --rate, --json, --quiet, --sweep, --html.
void add_bench_options(CLI::App& command, BenchOptions& options);

enum class Outcome {
  ok,
  timeout,
  connect,
  tls,
  pool_timeout,
  server,
  circuit_open,
  protocol,
  other
};
inline constexpr std::size_t kOutcomeCount = 9;
// The outcome's name in the reports: "timeout", "circuit_open", ... ("ok" for ok).
std::string_view outcome_name(Outcome outcome) noexcept;
// Maps an exception to the error bucket of the report (poolkit::Error codes; anything else,
// pool_closed and pool_cleared included, is "other").
Outcome classify(const std::exception_ptr& error) noexcept;

// Thread workers: make_worker(i) runs once on worker thread i and returns the operation that
// thread repeats; the operation throws on failure.
struct ThreadWorkload {
  std::function<std::function<void()>(int worker)> make_worker{};
  // Read once at the end: how many connections the client opened during the run.
  std::function<std::uint64_t()> connections_opened{};
};

// Async workers: start(done) begins one operation and calls done(error or nullptr) exactly once,
// from any thread. The runner keeps `concurrency` operations in flight.
struct AsyncWorkload {
  std::function<void(std::function<void(std::exception_ptr)> done)> start{};
  std::function<std::uint64_t()> connections_opened{};
};

// One layer's workload, as `bench` and `demo` build it: the operation to repeat, and the pool's
// in-use count so the runner can record the peak (for the recommended pool size).
struct Workload {
  std::variant<ThreadWorkload, AsyncWorkload> run;
  std::function<std::size_t()> in_use{};  // connections in use now, sampled during the run
  // The client's own high-water mark of connections in use, read once after the run; when
  // set, it replaces sampling in_use (which wakes a thread every 10 ms during the run).
  std::function<std::size_t()> peak_in_use{};
  // Figures of the layer's own, read once after the run and printed after the shared ones
  // (e.g. the async Redis client's batch sizes and CPU per command).
  std::function<std::vector<std::pair<std::string, double>>()> extra{};
};
// Builds the workload for options.pool_size / options.reuse against options.url.
using WorkloadFactory = std::function<Workload(const BenchOptions& options)>;

struct BenchReport {
  std::uint64_t ops = 0;                     // successful operations
  std::uint64_t errors[kOutcomeCount] = {};  // indexed by Outcome; errors[ok] stays 0
  // The message of the first error of each kind, indexed by Outcome; empty when there was none.
  // Printed only through print_bench_report, which masks the URL's secrets in it.
  std::array<std::string, kOutcomeCount> error_examples{};
  double elapsed_s = 0.0;
  std::uint64_t latency_us_p50 = 0, latency_us_p99 = 0, latency_us_p999 = 0, latency_us_max = 0;
  std::uint64_t connections_opened = 0;
  std::size_t peak_in_use = 0;                          // most pool connections in use at once
  std::vector<std::pair<std::string, double>> extra{};  // Workload::extra's figures
  double ops_per_sec() const { return elapsed_s > 0 ? static_cast<double>(ops) / elapsed_s : 0.0; }
  std::uint64_t error_count() const noexcept {
    std::uint64_t sum = 0;
    for (const std::uint64_t n : errors) sum += n;  // errors[ok] stays 0
    return sum;
  }
};

BenchReport run_bench(const BenchOptions& options, const ThreadWorkload& workload);
BenchReport run_bench(const BenchOptions& options, const AsyncWorkload& workload);
BenchReport run_bench(const BenchOptions& options, const Workload& workload);

// What `poolkit bench <layer>` does once its options are parsed: one run, or with --sweep one run
// per pool size (table or JSON array, and the HTML chart with --html). Bad values exit with 2;
// a run (or a whole sweep) in which no operation succeeded exits with 1 after its report.
void run_bench_command(BenchOptions options, const WorkloadFactory& factory,
                       const std::string& size_setting);

// Text report, or with options.json one JSON object: backend, url (redacted), concurrency,
// pool_size, reuse, duration_s, ops, ops_per_sec, latency_us {p50, p99, p999, max},
// errors {timeout, connect, tls, pool_timeout, server, circuit_open, protocol, other},
// connections_opened, error_examples {kind: first message} for the kinds that occurred, then
// the workload's extra figures (name: value).
// The text report ends with the same examples, one line per kind.
void print_bench_report(const BenchOptions& options, const BenchReport& report);

}  // namespace poolkit::cli
