// `poolkit demo --cluster` / `--sentinel`: the run behind the failover report (see
// demo_failover.hpp). Threads alternate INCR and GET over 1,024 counters (in a cluster every
// master owns some), each call's outcome counted in the 250 ms bucket it ended in; a master is
// killed 30% into the run; afterwards every counter is read back and compared with the INCRs
// its callers were told succeeded. One template serves both clients.

#include "demo_failover.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <poolkit/redis_cluster.hpp>
#include <poolkit/redis_sentinel.hpp>
#include <poolkit/settings.hpp>
#include <poolkit/url.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "bench_runner.hpp"
#include "demo_servers.hpp"

namespace poolkit::cli {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kCounters = 1024;
// At least this much steady load before the kill, whatever the duration.
constexpr milliseconds kMinimumBeforeKill{1500};

std::string counter_key(std::size_t index) {
  return fmt::format("poolkit:demo:n:{}", index);
}

// Short timeouts, so a caller of the dead master fails in about a second instead of waiting
// the defaults out: the chart then shows the burst as it happens.
RedisSettings demo_settings(const std::string& url, RedisMode mode, int threads) {
  RedisSettings settings = Settings::defaults().redis;
  settings.url = parse_url(url);
  settings.mode = mode;
  settings.max_connections = static_cast<std::size_t>(threads);
  settings.connect_timeout = milliseconds(500);
  settings.socket_timeout = milliseconds(1000);
  settings.wait_timeout = milliseconds(2000);
  settings.client_name = "poolkit-demo";
  return settings;
}

// What the threads record, shared; per-counter INCR tallies are per thread (no contention) and
// added up at the end.
class Recorder {
 public:
  Recorder(Clock::time_point start, milliseconds duration)
      : start_(start), buckets_(static_cast<std::size_t>(duration / kFailoverBucket)) {}

  void ok() {
    if (const auto b = bucket_now()) ++buckets_[*b].ops;
  }

  void failed(const std::exception_ptr& error) {
    if (const auto b = bucket_now()) ++buckets_[*b].errors;
    const auto at = static_cast<std::int64_t>(since_start().count());
    std::int64_t first = first_error_ms_.load();
    while ((first < 0 || at < first) && !first_error_ms_.compare_exchange_weak(first, at)) {
    }
    std::int64_t last = last_error_ms_.load();
    while (at > last && !last_error_ms_.compare_exchange_weak(last, at)) {
    }
    const auto kind = static_cast<std::size_t>(classify(error));
    if (errors_[kind]++ > 0) return;
    const std::lock_guard lock(mutex_);
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      first_messages_[kind] = e.what();
    } catch (...) {
      first_messages_[kind] = "a non-standard exception";
    }
  }

  milliseconds since_start() const {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start_);
  }

  // Into `run`: buckets, errors by kind and their first messages, first and last error.
  void fill(FailoverRun& run, const Url& url) const {
    for (const auto& b : buckets_) run.buckets.push_back({b.ops.load(), b.errors.load()});
    for (std::size_t kind = 1; kind < kOutcomeCount; ++kind) {
      if (errors_[kind] == 0) continue;
      const std::string name(outcome_name(static_cast<Outcome>(kind)));
      run.errors_by_kind.emplace_back(name, errors_[kind].load());
      run.first_error_of_kind.emplace_back(name, url.scrub(first_messages_[kind]));
    }
    if (first_error_ms_ >= 0) {
      run.first_error = milliseconds(first_error_ms_.load());
      run.last_error = milliseconds(last_error_ms_.load());
    }
  }

 private:
  struct Bucket {
    std::atomic<std::uint64_t> ops{0};
    std::atomic<std::uint64_t> errors{0};
  };
  // None for a call that ended after the run (the last calls, waited for at the end).
  std::optional<std::size_t> bucket_now() const {
    const auto index = static_cast<std::size_t>(since_start() / kFailoverBucket);
    if (index >= buckets_.size()) return std::nullopt;
    return index;
  }

  Clock::time_point start_;
  std::vector<Bucket> buckets_;
  std::array<std::atomic<std::uint64_t>, kOutcomeCount> errors_{};
  std::atomic<std::int64_t> first_error_ms_{-1};
  std::atomic<std::int64_t> last_error_ms_{-1};
  std::mutex mutex_;
  std::array<std::string, kOutcomeCount> first_messages_{};
};

struct IncrTally {
  std::vector<std::uint64_t> succeeded = std::vector<std::uint64_t>(kCounters, 0);
  std::vector<std::uint64_t> failed = std::vector<std::uint64_t>(kCounters, 0);
};

// One thread's load until `stop`: INCR and GET in turn, over the counters from its own start.
template <class Client>
void run_worker(Client& client, Recorder& recorder, IncrTally& tally, int worker,
                const std::atomic<bool>& stop) {
  std::size_t next = static_cast<std::size_t>(worker) * 7919;
  for (std::uint64_t call = 0; !stop.load(std::memory_order_relaxed); ++call) {
    const bool incr = call % 2 == 0;
    const std::size_t index = (incr ? next++ : next - 1) % kCounters;
    try {
      if (incr) {
        client.incr(counter_key(index));
        ++tally.succeeded[index];
      } else {
        client.get(counter_key(index));
      }
      recorder.ok();
    } catch (...) {
      if (incr) ++tally.failed[index];
      recorder.failed(std::current_exception());
    }
  }
}

// Every counter against its successful and failed INCRs. Read after the failover; a read that
// fails is retried for a few seconds (the slot map or the sentinels may still be settling).
template <class Client>
CounterCheck check_counters(Client& client, const IncrTally& total) {
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < kCounters; ++i) keys.push_back(counter_key(i));
  std::vector<std::optional<std::string>> values;
  for (int attempt = 0;; ++attempt) {
    try {
      values = client.mget(keys);
      break;
    } catch (const std::exception&) {
      if (attempt >= 20) throw;
      std::this_thread::sleep_for(milliseconds(250));
    }
  }
  CounterCheck check;
  for (std::size_t i = 0; i < kCounters; ++i) {
    const std::uint64_t value = values[i] ? std::stoull(*values[i]) : 0;
    const std::uint64_t ok = total.succeeded[i], failed = total.failed[i];
    ++check.counters;
    if (value == ok) {
      ++check.exact;
      continue;
    }
    if (value > ok && value <= ok + failed) {
      ++check.failed_ran;
      continue;
    }
    ++(value < ok ? check.lost : check.doubled);
    if (check.first_mismatch.empty())
      check.first_mismatch = fmt::format("{} = {} after {} successful and {} failed INCRs", keys[i],
                                         value, ok, failed);
  }
  return check;
}

// The deployment under test, as the load needs it.
struct Deployment {
  std::string topology;  // "cluster", "sentinel"
  std::string victim;    // host:port of the master to kill
  std::function<void()> kill_victim;
  std::function<std::string()> promoted;  // host:port serving in its place, after the run
};

// `threads` workers on `client` for `duration`; the victim killed 30% in (at least 1.5 s).
template <class Client>
FailoverRun run_failover_load(Client& client, const Deployment& deployment, const Url& url,
                              int threads, milliseconds duration) {
  FailoverRun run{.topology = deployment.topology,
                  .url = url.redacted(),
                  .threads = threads,
                  .duration = duration,
                  .victim = deployment.victim};
  const Clock::time_point start = Clock::now();
  Recorder recorder(start, duration);
  std::vector<IncrTally> tallies(static_cast<std::size_t>(threads));
  std::atomic<bool> stop{false};
  std::vector<std::thread> workers;
  workers.reserve(static_cast<std::size_t>(threads));
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back(
        [&, i] { run_worker(client, recorder, tallies[static_cast<std::size_t>(i)], i, stop); });
  }
  std::this_thread::sleep_until(
      start + std::max(kMinimumBeforeKill, milliseconds(duration.count() * 3 / 10)));
  run.killed_at = recorder.since_start();  // as it happened, and before any error it causes
  deployment.kill_victim();
  fmt::print(stderr, "killed master {} at {:.2f} s\n", run.victim,
             static_cast<double>(run.killed_at.count()) / 1000.0);
  std::this_thread::sleep_until(start + duration);
  stop = true;
  for (auto& worker : workers) worker.join();

  recorder.fill(run, url);
  IncrTally total;
  for (const IncrTally& tally : tallies) {
    for (std::size_t i = 0; i < kCounters; ++i) {
      total.succeeded[i] += tally.succeeded[i];
      total.failed[i] += tally.failed[i];
    }
  }
  run.promoted = deployment.promoted();
  run.counters = check_counters(client, total);
  return run;
}

// Polls `current` (up to 10 s) until it names someone other than `victim`; empty if never.
template <class Current>
std::string successor(const std::string& victim, Current current) {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    std::string now = current();
    if (!now.empty() && now != victim) return now;
    if (Clock::now() > deadline) return {};
    std::this_thread::sleep_for(milliseconds(100));
  }
}

}  // namespace

FailoverRun run_cluster_failover(LocalServers& servers, int threads, milliseconds duration) {
  const std::string seed_url = start_redis_cluster(servers);
  local::RedisCluster& cluster = *servers.cluster;
  const RedisSettings settings = demo_settings(seed_url, RedisMode::cluster, threads);
  redis::ClusterClient client(settings);
  client.del({counter_key(0)});  // reads the slot map before the clock starts
  const std::optional<std::size_t> victim = cluster.master_of_slot(0);
  if (!victim) throw std::runtime_error("no master serves slot 0: the cluster is not whole");
  const std::string victim_address = fmt::format("127.0.0.1:{}", cluster.node(*victim).port());
  // Not RedisCluster::wait_until_ok afterwards: that asks node 0, which may be the victim.
  const auto master_of_slot_0 = [&cluster] {
    const auto index = cluster.master_of_slot(0);
    return index ? fmt::format("127.0.0.1:{}", cluster.node(*index).port()) : std::string();
  };
  const Deployment deployment{
      .topology = "cluster",
      .victim = victim_address,
      .kill_victim = [&cluster, index = *victim] { cluster.node(index).kill(); },
      .promoted = [&] { return successor(victim_address, master_of_slot_0); }};
  return run_failover_load(client, deployment, *settings.url, threads, duration);
}

FailoverRun run_sentinel_failover(LocalServers& servers, int threads, milliseconds duration) {
  const std::string url = start_redis_sentinels(servers);
  local::RedisSentinelSet& set = *servers.sentinels;
  RedisSettings settings = demo_settings(url, RedisMode::sentinel, threads);
  settings.sentinel_master = set.master_name();
  redis::SentinelClient client(settings);
  client.del({counter_key(0)});  // asks the sentinels for the master before the clock starts
  const std::string victim_address = fmt::format("127.0.0.1:{}", set.master().port());
  const auto master_seen = [&set] {
    for (std::size_t i = 0; i < set.sentinel_count(); ++i) {
      if (const auto port = set.master_port_seen_by(i)) return fmt::format("127.0.0.1:{}", *port);
    }
    return std::string();
  };
  const Deployment deployment{.topology = "sentinel",
                              .victim = victim_address,
                              .kill_victim = [&set] { set.master().kill(); },
                              .promoted = [&] { return successor(victim_address, master_seen); }};
  return run_failover_load(client, deployment, *settings.url, threads, duration);
}

}  // namespace poolkit::cli
