#pragma once
// The load generator behind every `poolkit bench <layer>`: runs one operation from N workers
// (threads, or N operations kept in flight on an async client) for a duration, optionally paced
// to a total rate (open loop), shows a progress line, and prints one report (text or JSON) with
// the fields every layer shares.

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>

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
};

// The options every `bench <layer>` shares: --concurrency, --duration, --pool-size, --no-reuse,
// --rate, --json, --quiet.
void add_bench_options(CLI::App& command, BenchOptions& options);
// Exits with status 2 (and a message naming the option) when a value is out of range.
void validate_bench_options(const BenchOptions& options);

enum class Outcome { ok, timeout, connect, pool_timeout, server, other };
// Maps an exception to the error bucket of the report (poolkit::Error codes; anything else is
// "other").
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

struct BenchReport {
  std::uint64_t ops = 0;         // successful operations
  std::uint64_t errors[6] = {};  // indexed by Outcome; errors[ok] stays 0
  double elapsed_s = 0.0;
  std::uint64_t latency_us_p50 = 0, latency_us_p99 = 0, latency_us_p999 = 0, latency_us_max = 0;
  std::uint64_t connections_opened = 0;
  double ops_per_sec() const { return elapsed_s > 0 ? static_cast<double>(ops) / elapsed_s : 0.0; }
};

BenchReport run_bench(const BenchOptions& options, const ThreadWorkload& workload);
BenchReport run_bench(const BenchOptions& options, const AsyncWorkload& workload);

// Text report, or with options.json one JSON object: backend, url (redacted), concurrency,
// pool_size, reuse, duration_s, ops, ops_per_sec, latency_us {p50, p99, p999, max},
// errors {timeout, connect, pool_timeout, server, other}, connections_opened.
void print_bench_report(const BenchOptions& options, const BenchReport& report);

}  // namespace poolkit::cli
