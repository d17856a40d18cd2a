#include "bench_runner.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <poolkit/error.hpp>
#include <poolkit/url.hpp>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "demo_report.hpp"
#include "latency_histogram.hpp"

namespace poolkit::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::array<std::string_view, kOutcomeCount> kOutcomeNames = {
    "ok",     "timeout",      "connect",  "tls",  "pool_timeout",
    "server", "circuit_open", "protocol", "other"};

// The error kinds, in report order (every outcome but ok).
constexpr auto error_kinds() {
  std::array<Outcome, kOutcomeCount - 1> kinds{};
  for (std::size_t i = 1; i < kOutcomeCount; ++i) kinds[i - 1] = static_cast<Outcome>(i);
  return kinds;
}

std::string message_of(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

// Results of one worker, merged at the end so workers never share a counter.
// Aligned so neighbouring workers' tallies never share a cache line.
struct alignas(64) Tally {
  LatencyHistogram latencies;
  std::uint64_t errors[kOutcomeCount] = {};
  std::array<std::string, kOutcomeCount> examples{};

  void add(Outcome outcome, Clock::time_point started, const std::exception_ptr& error) {
    if (outcome == Outcome::ok) {
      const auto micros =
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started);
      latencies.record(static_cast<std::uint64_t>(std::max<std::int64_t>(micros.count(), 0)));
      return;
    }
    const auto i = static_cast<std::size_t>(outcome);
    // Only the first of each kind is kept: a failing run can have 100k errors a second.
    if (errors[i]++ == 0 && error) examples[i] = message_of(error);
  }
  void merge(const Tally& other) {
    latencies.merge(other.latencies);
    for (std::size_t i = 0; i < kOutcomeCount; ++i) {
      errors[i] += other.errors[i];
      if (examples[i].empty()) examples[i] = other.examples[i];
    }
  }
};

// The live counters the progress line reads. Each worker bumps its own, on its own cache line,
// so counting costs the measured operations no cache-line traffic between workers.
struct Progress {
  struct alignas(64) Counts {
    std::atomic<std::uint64_t> ops{0};
    std::atomic<std::uint64_t> errors{0};
  };
  explicit Progress(std::size_t workers = 1) : counts(workers) {}
  std::vector<Counts> counts;

  void count(Outcome outcome, std::size_t worker = 0) {
    Counts& c = counts[worker];
    (outcome == Outcome::ok ? c.ops : c.errors).fetch_add(1, std::memory_order_relaxed);
  }
  std::uint64_t ops() const { return sum(&Counts::ops); }
  std::uint64_t errors() const { return sum(&Counts::errors); }

 private:
  std::uint64_t sum(std::atomic<std::uint64_t> Counts::*field) const {
    std::uint64_t total = 0;
    for (const Counts& c : counts) total += (c.*field).load(std::memory_order_relaxed);
    return total;
  }
};

// Prints the progress line every half second until the run ends; then sleeps out the rest.
void watch(const BenchOptions& options, const Progress& progress, Clock::time_point start,
           Clock::time_point end) {
  const bool tty = ::isatty(STDERR_FILENO) != 0;
  auto next = start;
  auto last_time = start;
  std::uint64_t last_ops = 0;
  while (Clock::now() < end) {
    next += tty ? std::chrono::milliseconds(500) : std::chrono::milliseconds(2000);
    std::this_thread::sleep_until(std::min(next, end));
    if (!options.progress) continue;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    const std::uint64_t ops = progress.ops();
    // The last window is cut short by the end of the run: divide by what it really lasted.
    const auto now = Clock::now();
    const double window = std::max(std::chrono::duration<double>(now - last_time).count(), 1e-3);
    last_time = now;
    fmt::print(stderr, "{}[{}] {:5.1f}/{:.1f} s  {:>10} ops  {:>10.0f} ops/s  {} errors{}",
               tty ? "\r" : "", options.backend, elapsed, options.duration_s, ops,
               static_cast<double>(ops - last_ops) / window, progress.errors(), tty ? "" : "\n");
    last_ops = ops;
  }
  if (options.progress && tty) fmt::print(stderr, "\r{:80}\r", "");
}

// When the next operation of a paced worker is due: worker w of N starts at w/rate and then
// every N/rate seconds, so the total is `rate` per second (open loop).
Clock::time_point due(Clock::time_point start, const BenchOptions& options, int worker,
                      std::uint64_t k) {
  const double seconds =
      (static_cast<double>(worker) + static_cast<double>(k) * options.concurrency) / options.rate;
  return start +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

BenchReport finish(const Tally& total, Clock::time_point start, std::uint64_t connections) {
  BenchReport report;
  report.ops = total.latencies.count();
  for (std::size_t i = 0; i < kOutcomeCount; ++i) report.errors[i] = total.errors[i];
  report.error_examples = total.examples;
  report.elapsed_s = std::chrono::duration<double>(Clock::now() - start).count();
  report.latency_us_p50 = total.latencies.quantile(0.50);
  report.latency_us_p99 = total.latencies.quantile(0.99);
  report.latency_us_p999 = total.latencies.quantile(0.999);
  report.latency_us_max = total.latencies.max();
  report.connections_opened = connections;
  return report;
}

Clock::time_point end_of(Clock::time_point start, const BenchOptions& options) {
  return start + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(options.duration_s));
}

}  // namespace

void add_bench_options(CLI::App& command, BenchOptions& options) {
  command
      .add_option("--concurrency,-c", options.concurrency,
                  "Workers (threads, or requests in flight)")
      ->required()
      ->check(CLI::Range(1, 10000));
  command.add_option("--duration,-d", options.duration_s, "Seconds to run")
      ->required()
      ->check(CLI::Range(0.1, 3600.0));
  command.add_option("--pool-size", options.pool_size, "Pool size (default: the layer's setting)")
      ->check(CLI::Range(1, 100000));
  command.add_flag("--no-reuse{false}", options.reuse, "Open and close a connection per operation");
  command
      .add_option("--rate", options.rate,
                  "Total operations per second, paced (open loop); 0 = flat out")
      ->check(CLI::Range(0.0, 10000000.0));
  command.add_flag("--json", options.json, "Print one JSON object");
  command.add_flag("--quiet{false}", options.progress, "No progress line");
  command.add_option("--sweep", options.sweep,
                     "Run once per pool size FROM:TO[:STEP] (doubling without STEP)");
  command.add_option("--html", options.html,
                     "With --sweep: write the sweep chart to this HTML file");
}

std::string_view outcome_name(Outcome outcome) noexcept {
  return kOutcomeNames[static_cast<std::size_t>(outcome)];
}

Outcome classify(const std::exception_ptr& error) noexcept {
  if (!error) return Outcome::ok;
  try {
    std::rethrow_exception(error);
  } catch (const Error& e) {
    switch (e.code()) {
      case ErrorCode::timeout:
        return Outcome::timeout;
      case ErrorCode::connect:
        return Outcome::connect;
      case ErrorCode::tls:
        return Outcome::tls;
      case ErrorCode::pool_timeout:
        return Outcome::pool_timeout;
      case ErrorCode::server:
        return Outcome::server;
      case ErrorCode::circuit_open:
        return Outcome::circuit_open;
      case ErrorCode::protocol:
        return Outcome::protocol;
      default:
        return Outcome::other;
    }
  } catch (...) {
    return Outcome::other;
  }
}

BenchReport run_bench(const BenchOptions& options, const ThreadWorkload& workload) {
  const auto n = static_cast<std::size_t>(options.concurrency);
  std::vector<Tally> tallies(n);
  Progress progress(n);
  std::atomic<bool> stop{false};
  std::exception_ptr setup_failure;
  std::mutex setup_mutex;
  const Clock::time_point start = Clock::now() + std::chrono::milliseconds(50);
  const Clock::time_point end = end_of(start, options);

  std::vector<std::jthread> workers;
  for (std::size_t w = 0; w < n; ++w) {
    workers.emplace_back([&, w] {
      std::function<void()> operation;
      try {
        operation = workload.make_worker(static_cast<int>(w));
      } catch (...) {
        const std::lock_guard lock(setup_mutex);
        if (!setup_failure) setup_failure = std::current_exception();
        return;
      }
      std::this_thread::sleep_until(start);
      for (std::uint64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) {
        Clock::time_point started = Clock::now();
        if (options.rate > 0) {
          const auto when = due(start, options, static_cast<int>(w), k);
          if (when >= end) break;
          std::this_thread::sleep_until(when);
          started = when;  // latency counts from when it was due, not when we got to it
        }
        Outcome outcome = Outcome::ok;
        std::exception_ptr error;
        try {
          operation();
        } catch (...) {
          error = std::current_exception();
          outcome = classify(error);
        }
        tallies[w].add(outcome, started, error);
        progress.count(outcome, w);
      }
    });
  }
  watch(options, progress, start, end);
  stop = true;
  workers.clear();  // joins
  if (setup_failure) std::rethrow_exception(setup_failure);
  Tally total;
  for (const Tally& t : tallies) total.merge(t);
  return finish(total, start, workload.connections_opened ? workload.connections_opened() : 0);
}

namespace {

// The state an async run shares with its completions, which may run on the client's I/O thread
// after a failed run gave up waiting: everything they touch lives here.
struct AsyncRun {
  std::function<void(std::function<void(std::exception_ptr)>)> start;
  Clock::time_point end;
  std::mutex mutex;
  std::condition_variable changed;
  int in_flight = 0;
  int handed_back = 0;  // chains the dispatcher must restart (see relaunch)
  Tally tally;
  Progress progress;
};

// Closed loop: each of the N chains starts its next operation from the completion of the last,
// on the completing thread, as a load generator with its own event loop would. A completion
// that runs inside start() itself (an immediate failure) hands the chain to the dispatcher
// instead, so the stack cannot grow without bound.
void launch(const std::shared_ptr<AsyncRun>& run) {
  thread_local int depth = 0;
  const Clock::time_point started = Clock::now();
  ++depth;
  run->start([run, started](std::exception_ptr error) {
    const Outcome outcome = classify(error);
    run->progress.count(outcome);
    const bool more = Clock::now() < run->end;
    {
      const std::lock_guard lock(run->mutex);
      run->tally.add(outcome, started, error);
      if (!more || depth > 0) {
        --run->in_flight;
        if (more) ++run->handed_back;
        run->changed.notify_all();
      }
    }
    if (more && depth == 0) launch(run);
  });
  --depth;
}

}  // namespace

BenchReport run_bench(const BenchOptions& options, const AsyncWorkload& workload) {
  auto run = std::make_shared<AsyncRun>();
  run->start = workload.start;
  const Clock::time_point start = Clock::now() + std::chrono::milliseconds(50);
  run->end = end_of(start, options);

  std::jthread dispatcher([&] {
    std::this_thread::sleep_until(start);
    if (options.rate <= 0) {
      int to_start = options.concurrency;
      for (;;) {
        for (; to_start > 0; --to_start) {
          {
            const std::lock_guard lock(run->mutex);
            ++run->in_flight;
          }
          launch(run);
        }
        std::unique_lock lock(run->mutex);
        run->changed.wait_until(lock, run->end, [&] { return run->handed_back > 0; });
        if (Clock::now() >= run->end) return;
        to_start = std::exchange(run->handed_back, 0);
      }
    }
    // Paced (open loop): start each operation when it is due, at most `concurrency` at once;
    // latency counts from when it was due.
    for (std::uint64_t k = 0;; ++k) {
      // Operation k is due at k/rate: worker slot k mod N, its (k div N)-th turn.
      const auto workers = static_cast<std::uint64_t>(options.concurrency);
      const Clock::time_point due_at =
          due(start, options, static_cast<int>(k % workers), k / workers);
      std::this_thread::sleep_until(std::min(due_at, run->end));
      {
        std::unique_lock lock(run->mutex);
        run->changed.wait_until(lock, run->end,
                                [&] { return run->in_flight < options.concurrency; });
        if (Clock::now() >= run->end) return;
        ++run->in_flight;
      }
      run->start([run, due_at](std::exception_ptr error) {
        const Outcome outcome = classify(error);
        run->progress.count(outcome);
        const std::lock_guard lock(run->mutex);
        run->tally.add(outcome, due_at, error);
        --run->in_flight;
        run->changed.notify_all();
      });
    }
  });
  watch(options, run->progress, start, run->end);
  dispatcher.join();
  std::unique_lock lock(run->mutex);
  // Operations still in flight end within the client's own timeouts.
  run->changed.wait_for(lock, std::chrono::seconds(120), [&] { return run->in_flight == 0; });
  const Tally total = run->tally;
  lock.unlock();
  return finish(total, start, workload.connections_opened ? workload.connections_opened() : 0);
}

BenchReport run_bench(const BenchOptions& options, const Workload& workload) {
  std::atomic<std::size_t> peak{0};
  std::atomic<bool> done{false};
  std::jthread sampler;
  if (workload.in_use && !workload.peak_in_use) {
    sampler = std::jthread([&] {
      while (!done.load(std::memory_order_relaxed)) {
        const std::size_t now = workload.in_use();
        if (now > peak.load(std::memory_order_relaxed)) peak.store(now, std::memory_order_relaxed);
        // Often enough to see the peak of a load that lasts seconds, rarely enough that the
        // sampler's own wake-ups stay out of the measured latencies (on 2 cores each one
        // preempts a worker).
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
    });
  }
  BenchReport report =
      std::visit([&](const auto& run) { return run_bench(options, run); }, workload.run);
  done = true;
  if (sampler.joinable()) sampler.join();
  report.peak_in_use = workload.peak_in_use ? workload.peak_in_use() : peak.load();
  if (workload.extra) report.extra = workload.extra();
  return report;
}

namespace {

[[noreturn]] void invalid(const std::string& message) {
  fmt::print(stderr, "poolkit bench: {}\n", message);
  throw CLI::RuntimeError(kExitInvalid);
}

// A message longer than this is cut: one example must not drown the figures.
constexpr std::size_t kExampleLength = 400;

// The first message of each error kind that occurred, in report order, as it may be printed.
// poolkit's own errors mask secrets already; the URL's secrets are masked again in every
// message, whatever threw it.
std::vector<std::pair<std::string_view, std::string>> printable_examples(
    const BenchOptions& options, const std::array<std::string, kOutcomeCount>& examples) {
  std::optional<Url> url;
  try {
    url = parse_url(options.url);
  } catch (const ConfigError&) {
    // Never happens once the layer ran; without a URL there is no secret of it to mask.
  }
  std::vector<std::pair<std::string_view, std::string>> out;
  for (const Outcome kind : error_kinds()) {
    std::string message = examples[static_cast<std::size_t>(kind)];
    if (message.empty()) continue;
    if (url) message = url->scrub(std::move(message));
    if (message.size() > kExampleLength) message = message.substr(0, kExampleLength) + "...";
    out.emplace_back(outcome_name(kind), std::move(message));
  }
  return out;
}

nlohmann::ordered_json examples_json(const BenchOptions& options,
                                     const std::array<std::string, kOutcomeCount>& examples) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (auto& [kind, message] : printable_examples(options, examples)) out[kind] = message;
  return out;
}

void print_examples(const BenchOptions& options,
                    const std::array<std::string, kOutcomeCount>& examples) {
  const auto printable = printable_examples(options, examples);
  if (printable.empty()) return;
  fmt::print("  first error of each kind\n");
  for (const auto& [kind, message] : printable) fmt::print("    {:<13} {}\n", kind, message);
}

// The first example of each kind over a whole sweep.
std::array<std::string, kOutcomeCount> sweep_examples(const std::vector<SweepPoint>& points) {
  std::array<std::string, kOutcomeCount> examples{};
  for (const auto& p : points)
    for (std::size_t i = 0; i < kOutcomeCount; ++i)
      if (examples[i].empty()) examples[i] = p.report.error_examples[i];
  return examples;
}

// Exit status 1 when nothing succeeded: a bench of a layer that is down must not pass for a
// measurement. The report, printed before, says why.
void fail_unless_any_succeeded(std::uint64_t ops, std::uint64_t errors) {
  if (ops > 0) return;
  fmt::print(stderr,
             "poolkit bench: no operation succeeded ({} error{}); see the first error of "
             "each kind in the report\n",
             errors, errors == 1 ? "" : "s");
  throw CLI::RuntimeError(kExitFailure);
}

void print_sweep(const BenchOptions& options, const std::vector<SweepPoint>& points,
                 const SizeChoice& choice, const std::string& size_setting) {
  if (options.json) {
    nlohmann::ordered_json sweep = nlohmann::ordered_json::array();
    for (const auto& p : points)
      sweep.push_back(
          {{"pool_size", p.pool_size},
           {"ops_per_sec", p.report.ops_per_sec()},
           {"latency_us", {{"p50", p.report.latency_us_p50}, {"p99", p.report.latency_us_p99}}},
           {"peak_in_use", p.report.peak_in_use},
           {"errors", p.report.error_count()}});
    fmt::print("{}\n", nlohmann::ordered_json{{"backend", options.backend},
                                              {"url", redact_url_text(options.url)},
                                              {"concurrency", options.concurrency},
                                              {"sweep", sweep},
                                              {"recommended_pool_size", choice.size},
                                              {"recommended_because", explain_choice(choice)},
                                              {"error_examples",
                                               examples_json(options, sweep_examples(points))}}
                           .dump());
    return;
  }
  fmt::print("{} pool-size sweep  {}  concurrency {}\n", options.backend,
             redact_url_text(options.url), options.concurrency);
  fmt::print("  {:>9} {:>12} {:>10} {:>10} {:>12} {:>8}\n", "pool size", "ops/s", "p50 µs",
             "p99 µs", "peak in use", "errors");
  for (const auto& p : points)
    fmt::print("  {:>9} {:>12.0f} {:>10} {:>10} {:>12} {:>8}\n", p.pool_size,
               p.report.ops_per_sec(), p.report.latency_us_p50, p.report.latency_us_p99,
               p.report.peak_in_use, p.report.error_count());
  fmt::print("  recommended: {}={} ({})\n", size_setting, choice.size, explain_choice(choice));
  print_examples(options, sweep_examples(points));
}

}  // namespace

void run_bench_command(BenchOptions options, const WorkloadFactory& factory,
                       const std::string& size_setting) {
  std::vector<std::size_t> sizes;
  try {
    if (!options.sweep.empty()) sizes = parse_sweep(options.sweep);
  } catch (const std::invalid_argument& error) {
    invalid(error.what());
  }
  if (!options.html.empty() && sizes.empty()) invalid("--html needs --sweep FROM:TO[:STEP]");
  if (!options.reuse && !sizes.empty())
    invalid("--sweep measures pool sizes: it cannot be combined with --no-reuse");
  try {
    if (sizes.empty()) {
      const BenchReport report = run_bench(options, factory(options));
      print_bench_report(options, report);
      fail_unless_any_succeeded(report.ops, report.error_count());
      return;
    }
    std::vector<SweepPoint> points;
    for (const std::size_t size : sizes) {
      options.pool_size = size;
      points.push_back({size, run_bench(options, factory(options))});
    }
    // The sweep's knee, as the demo recommends it: a sweep measures the curve, so it need not
    // guess from the peak (peak + 20% is for sizing from a service's own metrics).
    const SizeChoice choice = choose_pool_size(points);
    const std::size_t recommended = choice.size;
    print_sweep(options, points, choice, size_setting);
    if (!options.html.empty()) {
      LayerResult layer{.layer = options.backend,
                        .url = redact_url_text(options.url),
                        .concurrency = options.concurrency};
      layer.sweep = points;
      layer.pooled = points.back().report;
      layer.peak_in_use = points.back().report.peak_in_use;
      layer.recommended_size = recommended;
      layer.choice = choice;
      layer.size_setting = size_setting;
      std::ofstream(options.html) << render_html_report({layer}, "poolkit bench --sweep");
      fmt::print(stderr, "sweep chart written to {}\n", options.html);
    }
    std::uint64_t ops = 0, errors = 0;
    for (const auto& p : points) {
      ops += p.report.ops;
      errors += p.report.error_count();
    }
    fail_unless_any_succeeded(ops, errors);
  } catch (const ConfigError& error) {
    invalid(error.what());
  }
}

void print_bench_report(const BenchOptions& options, const BenchReport& report) {
  if (options.json) {
    nlohmann::ordered_json errors;
    for (const Outcome kind : error_kinds())
      errors[outcome_name(kind)] = report.errors[static_cast<std::size_t>(kind)];
    nlohmann::ordered_json out = {
        {"backend", options.backend},
        {"url", redact_url_text(options.url)},
        {"concurrency", options.concurrency},
        {"pool_size", options.pool_size},
        {"reuse", options.reuse},
        {"duration_s", report.elapsed_s},
        {"ops", report.ops},
        {"ops_per_sec", report.ops_per_sec()},
        {"latency_us",
         {{"p50", report.latency_us_p50},
          {"p99", report.latency_us_p99},
          {"p999", report.latency_us_p999},
          {"max", report.latency_us_max}}},
        {"errors", errors},
        {"connections_opened", report.connections_opened},
        {"error_examples", examples_json(options, report.error_examples)},
    };
    for (const auto& [name, value] : report.extra) out[name] = value;
    fmt::print("{}\n", out.dump());
    return;
  }
  fmt::print("{} bench  {}\n", options.backend, redact_url_text(options.url));
  fmt::print("  concurrency {}  pool size {}  {}  {:.1f} s{}\n", options.concurrency,
             options.pool_size, options.reuse ? "pooled" : "new connection per operation",
             report.elapsed_s,
             options.rate > 0 ? fmt::format("  paced at {:.0f} ops/s", options.rate) : "");
  fmt::print("  ops          {}  ({:.0f} ops/s)\n", report.ops, report.ops_per_sec());
  fmt::print("  latency µs   p50 {}  p99 {}  p99.9 {}  max {}\n", report.latency_us_p50,
             report.latency_us_p99, report.latency_us_p999, report.latency_us_max);
  std::string errors;
  for (const Outcome kind : error_kinds()) {
    errors += fmt::format("{}{} {}", errors.empty() ? "" : "  ", outcome_name(kind),
                          report.errors[static_cast<std::size_t>(kind)]);
  }
  fmt::print("  errors       {}\n", errors);
  fmt::print("  connections  {} opened\n", report.connections_opened);
  for (const auto& [name, value] : report.extra) fmt::print("  {:<12} {:.4g}\n", name, value);
  print_examples(options, report.error_examples);
}

}  // namespace poolkit::cli
