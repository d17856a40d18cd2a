// Check-out + check-in throughput of poolkit's pool against the common design (one mutex,
// one condition variable, a deque: the shape of redis-plus-plus's pool), same workload, same
// binary, same run.
//
//   poolkit_pool_bench [--markdown FILE] [google-benchmark flags]
//
// With --markdown it also writes the ratio table that docs/benchmarks.md shows.

#include <benchmark/benchmark.h>

#include <array>
#include <bit>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <poolkit/pool.hpp>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kPoolSize = 8;

struct Connection {
  std::uint64_t uses = 0;
};

struct NullConnector {
  using Connection = ::Connection;
  Connection open(poolkit::Deadline) { return {}; }
  bool check(Connection&, poolkit::Deadline) { return true; }
  void close(Connection&) noexcept {}
};

// The baseline: what most hand-written pools look like.
class MutexCvPool {
 public:
  explicit MutexCvPool(std::size_t size) : size_(size) {}

  Connection* acquire(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!available_.wait_for(lock, timeout, [&] { return !idle_.empty() || created_ < size_; })) {
      throw std::runtime_error("baseline pool: timeout");
    }
    if (idle_.empty()) {
      ++created_;
      connections_.push_back(std::make_unique<Connection>());
      return connections_.back().get();
    }
    Connection* connection = idle_.front();
    idle_.pop_front();
    return connection;
  }

  void release(Connection* connection) {
    {
      std::lock_guard lock(mutex_);
      idle_.push_back(connection);
    }
    available_.notify_one();
  }

 private:
  std::size_t size_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::deque<Connection*> idle_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::size_t created_ = 0;
};

poolkit::Pool<NullConnector> make_pool(bool strict_fifo) {
  poolkit::PoolOptions options;
  options.name = "bench";
  options.max_size = kPoolSize;
  options.wait_queue_timeout = std::chrono::seconds(30);
  options.strict_fifo = strict_fifo;
  return poolkit::Pool<NullConnector>(NullConnector{}, options);
}

poolkit::Pool<NullConnector>& poolkit_pool() {
  static poolkit::Pool<NullConnector> pool = make_pool(true);
  return pool;
}

poolkit::Pool<NullConnector>& non_strict_pool() {
  static poolkit::Pool<NullConnector> pool = make_pool(false);
  return pool;
}

MutexCvPool& baseline_pool() {
  static MutexCvPool pool(kPoolSize);
  return pool;
}

void checkout_loop(benchmark::State& state, poolkit::Pool<NullConnector>& pool) {
  for (auto _ : state) {
    auto lease = pool.checkout();
    ++lease->uses;
    benchmark::DoNotOptimize(lease->uses);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Poolkit(benchmark::State& state) {
  checkout_loop(state, poolkit_pool());
}
void BM_PoolkitNonStrict(benchmark::State& state) {
  checkout_loop(state, non_strict_pool());
}

void BM_Baseline(benchmark::State& state) {
  auto& pool = baseline_pool();
  for (auto _ : state) {
    Connection* connection = pool.acquire(std::chrono::seconds(30));
    ++connection->uses;
    benchmark::DoNotOptimize(connection->uses);
    pool.release(connection);
  }
  state.SetItemsProcessed(state.iterations());
}

// How long single check-outs wait at 32 threads on 8 connections: the price of fairness
// (poolkit) against the price of barging (baseline, where a sleeping waiter can lose the
// race for a returned connection again and again).
struct WaitHistogram {
  std::mutex mutex;
  std::array<std::uint64_t, 64> buckets{};  // bucket i: waits in [2^i, 2^(i+1)) ns
  std::uint64_t max_ns = 0;

  void reset() {
    std::lock_guard lock(mutex);
    buckets.fill(0);
    max_ns = 0;
  }
  void merge(const std::array<std::uint64_t, 64>& local, std::uint64_t local_max) {
    std::lock_guard lock(mutex);
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += local[i];
    max_ns = std::max(max_ns, local_max);
  }
  // Upper bound of the bucket holding the given quantile.
  double quantile_us(double q) {
    std::lock_guard lock(mutex);
    std::uint64_t total = 0;
    for (auto n : buckets) total += n;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets.size(); ++i) {
      seen += buckets[i];
      if (total > 0 && static_cast<double>(seen) >= q * static_cast<double>(total)) {
        return static_cast<double>(std::uint64_t{2} << i) / 1000.0;
      }
    }
    return 0;
  }
};

std::map<std::string, WaitHistogram>& wait_histograms() {
  static std::map<std::string, WaitHistogram> histograms;
  return histograms;
}

template <class Checkout>
void measure_waits(benchmark::State& state, WaitHistogram& histogram, Checkout checkout) {
  if (state.thread_index() == 0) histogram.reset();
  std::array<std::uint64_t, 64> local{};
  std::uint64_t local_max = 0;
  for (auto _ : state) {
    const auto started = std::chrono::steady_clock::now();
    checkout(started);
    const auto waited =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                       std::chrono::steady_clock::now() - started)
                                       .count());
    ++local[static_cast<std::size_t>(std::bit_width(waited | 1) - 1)];
    local_max = std::max(local_max, waited);
  }
  histogram.merge(local, local_max);
  state.SetItemsProcessed(state.iterations());
}

void poolkit_waits(benchmark::State& state, poolkit::Pool<NullConnector>& pool,
                   const std::string& name) {
  measure_waits(state, wait_histograms()[name], [&](auto) {
    auto lease = pool.checkout();
    ++lease->uses;
  });
}

void BM_PoolkitWaits(benchmark::State& state) {
  poolkit_waits(state, poolkit_pool(), "BM_PoolkitWaits");
}
void BM_PoolkitNonStrictWaits(benchmark::State& state) {
  poolkit_waits(state, non_strict_pool(), "BM_PoolkitNonStrictWaits");
}

void BM_BaselineWaits(benchmark::State& state) {
  auto& pool = baseline_pool();
  auto& histogram = wait_histograms()["BM_BaselineWaits"];
  measure_waits(state, histogram, [&](auto) {
    Connection* connection = pool.acquire(std::chrono::seconds(30));
    ++connection->uses;
    pool.release(connection);
  });
}

BENCHMARK(BM_Poolkit)->Threads(1)->Threads(2)->Threads(8)->Threads(32)->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_Baseline)
    ->Threads(1)
    ->Threads(2)
    ->Threads(8)
    ->Threads(32)
    ->UseRealTime()
    ->MinTime(0.5);
BENCHMARK(BM_PoolkitNonStrict)->Threads(8)->Threads(32)->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_PoolkitWaits)->Threads(32)->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_PoolkitNonStrictWaits)->Threads(32)->UseRealTime()->MinTime(0.5);
BENCHMARK(BM_BaselineWaits)->Threads(32)->UseRealTime()->MinTime(0.5);

// Remembers every run so the ratio table can be written once all have finished.
class TableReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      // With --benchmark_repetitions the median replaces the single runs.
      const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
      if ((run.run_type != Run::RT_Iteration && !median) || run.error_occurred) continue;
      const std::string name = run.run_name.function_name;
      const auto threads = static_cast<int>(run.threads);
      if (auto it = wait_histograms().find(name); it != wait_histograms().end()) {
        waits_[name] = {it->second.quantile_us(0.5), it->second.quantile_us(0.99),
                        it->second.quantile_us(0.999),
                        static_cast<double>(it->second.max_ns) / 1000.0};
        continue;
      }
      ns_per_op_[threads][name] = run.GetAdjustedRealTime();
    }
    ConsoleReporter::ReportRuns(runs);
  }

  void write_markdown(const std::string& path) const {
    std::ofstream out(path);
    out << "| threads | baseline ns/op | poolkit ns/op | poolkit / baseline | "
           "poolkit strict_fifo=false ns/op | strict_fifo=false / baseline |\n"
           "|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& [threads, ns] : ns_per_op_) {
      const auto get = [&](const char* name) { return ns.count(name) ? ns.at(name) : 0.0; };
      const double base = get("BM_Baseline");
      const double strict = get("BM_Poolkit");
      const double loose = get("BM_PoolkitNonStrict");
      // Throughput ratio: the baseline's time per operation over ours.
      const auto ratio = [&](double mine) { return mine > 0 ? base / mine : 0.0; };
      char line[256];
      if (loose > 0) {
        std::snprintf(line, sizeof line, "| %d | %.1f | %.1f | %.2fx | %.1f | %.2fx |\n", threads,
                      base, strict, ratio(strict), loose, ratio(loose));
      } else {
        std::snprintf(line, sizeof line, "| %d | %.1f | %.1f | %.2fx | | |\n", threads, base,
                      strict, ratio(strict));
      }
      out << line;
    }
    out << "\nCheck-out wait at 32 threads on 8 connections (upper bound of the log2 bucket, "
           "microseconds):\n\n| pool | p50 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|\n";
    const std::map<std::string, std::string> labels = {
        {"BM_BaselineWaits", "baseline (barging, no queue order)"},
        {"BM_PoolkitWaits", "poolkit (strict FIFO, default)"},
        {"BM_PoolkitNonStrictWaits", "poolkit strict_fifo=false"}};
    for (const auto& [name, q] : waits_) {
      char line[256];
      std::snprintf(line, sizeof line, "| %s | %.1f | %.1f | %.1f | %.1f |\n",
                    labels.at(name).c_str(), q[0], q[1], q[2], q[3]);
      out << line;
    }
  }

 private:
  std::map<int, std::map<std::string, double>> ns_per_op_;
  std::map<std::string, std::array<double, 4>> waits_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string markdown;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--markdown") == 0 && i + 1 < argc) {
      markdown = argv[++i];
    } else {
      args.push_back(argv[i]);
    }
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  TableReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (!markdown.empty()) reporter.write_markdown(markdown);
  return 0;
}
