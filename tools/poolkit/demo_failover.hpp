#pragma once
// `poolkit demo --cluster` / `--sentinel`: a steady INCR/GET load on a local 6-node Redis
// Cluster (or a master, replica and 3 sentinels) while a master is killed, recorded in 250 ms
// buckets, and a report of what the callers saw: the error burst, the recovery time and whether
// every counter kept exactly its successful INCRs. The analysis and the text chart are pure
// functions of the recorded run (tested on their own).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace poolkit::cli {

class LocalServers;

inline constexpr std::chrono::milliseconds kFailoverBucket{250};
// "Recovered": the first bucket after the failure began whose throughput reaches this share of
// the throughput before the kill.
inline constexpr double kRecoveredShare = 0.9;

struct FailoverBucket {
  std::uint64_t ops = 0;     // calls that succeeded, by the time they ended
  std::uint64_t errors = 0;  // calls that failed, by the time they ended
};

// How one counter ended, against what its callers were told.
struct CounterCheck {
  std::uint64_t counters = 0;
  std::uint64_t exact = 0;       // value == successful INCRs
  std::uint64_t failed_ran = 0;  // above, by at most its failed INCRs: an INCR whose reply was
                                 // lost with the master did run (its error said it may have)
  std::uint64_t lost = 0;        // below its successful INCRs: an acknowledged write is gone
  std::uint64_t doubled = 0;     // above by more than its failed INCRs: a write ran twice
  std::string first_mismatch{};  // key, value, successful and failed INCRs of the first one
};

// What the run recorded.
struct FailoverRun {
  std::string topology;  // "cluster" or "sentinel"
  std::string url;       // redacted
  int threads = 0;
  std::chrono::milliseconds duration{0};
  std::chrono::milliseconds killed_at{0};  // since the load started
  std::string victim{};                    // host:port of the master killed
  std::string promoted{};                  // who serves its slots afterwards (may be empty)
  std::vector<FailoverBucket> buckets{};
  std::vector<std::pair<std::string, std::uint64_t>> errors_by_kind{};  // "connect", 12
  std::vector<std::pair<std::string, std::string>> first_error_of_kind{};
  std::optional<std::chrono::milliseconds> first_error{};  // since the load started
  std::optional<std::chrono::milliseconds> last_error{};
  CounterCheck counters{};
};

struct FailoverAnalysis {
  double baseline_ops_per_bucket = 0;  // mean over the buckets before the kill (after warm-up)
  std::optional<std::size_t> recovered_bucket{};        // index into buckets
  std::optional<std::chrono::milliseconds> recovery{};  // kill → that bucket's start
  std::uint64_t errors = 0;
};

FailoverAnalysis analyse_failover(const FailoverRun& run);

// The report: header, the time chart (a line per bucket: ops and errors as bars, the kill and
// the recovery marked), the error burst, the recovery time and the counters' check.
std::string render_failover_report(const FailoverRun& run);

// Starts the servers, runs the load, kills a master, checks the counters (demo_failover.cpp).
// Throws std::exception when the cluster cannot start or the load cannot begin.
// The cluster is kept in `servers`, so an interrupt stops it.
FailoverRun run_cluster_failover(LocalServers& servers, int threads,
                                 std::chrono::milliseconds duration);
// The same through SentinelClient on a master, its replica and three sentinels.
FailoverRun run_sentinel_failover(LocalServers& servers, int threads,
                                  std::chrono::milliseconds duration);

}  // namespace poolkit::cli
