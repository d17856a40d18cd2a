#pragma once
// Redis Sentinel (REDIS_MODE=sentinel): a master and its replicas watched by sentinels, which
// promote a replica when the master fails.
//
//   poolkit::redis::SentinelClient redis(settings.redis);  // REDIS_URL lists the sentinels
//   redis.set("cart:42", "3 items");                       // on the master called
//                                                          // REDIS_SENTINEL_MASTER
//
// The master's address comes from the sentinels (SENTINEL get-master-addr-by-name, asked in the
// order of REDIS_URL, a sentinel that fails skipped) and is confirmed with ROLE before use.
// Commands then go through one bounded pooled redis::Client to it (REDIS_MAX_CONNECTIONS and the
// other REDIS_* settings; the URL's user, password and TLS options). The sentinels get
// REDIS_SENTINEL_PASSWORD, or no password when it is unset.
//
// Failover (docs/redis.md "Sentinel"): once it has a master, the client subscribes to
// +switch-master on one sentinel (a background thread, another sentinel taken when that one
// goes), and moves to the master a switch names once ROLE confirms it, usually before any
// command meets the old one. As a fallback, a connection error or a READONLY reply (the old
// master was demoted) makes the client ask the sentinels again (at most once per
// min_resolve_interval, so a dead master cannot cause a storm of questions). When the master moved,
// the old pool is cleared and dropped and the call goes on against the new one; it is repeated when
// nothing of it may have run (a connect error, READONLY) or when it is idempotent
// (redis::is_idempotent), as redis::Client does for one server. All within the call's retry budget,
// after which the last typed error is thrown (ConnectError, TimeoutError, ...).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/redis.hpp"

namespace poolkit::redis {

struct SentinelOptions {
  // The master's client; fields RedisSettings holds are taken from the settings.
  Options node{};
  // Connect and reply timeout of each question to a sentinel: short, so that a dead sentinel
  // costs little before the next one is asked.
  std::chrono::milliseconds sentinel_timeout{500};
  // How long one call keeps following a failover (re-resolving, retrying) before giving up;
  // 0: the node options' socket_timeout (REDIS_SOCKET_TIMEOUT).
  std::chrono::milliseconds retry_budget{0};
  // Questions to the sentinels after a failure are at least this far apart.
  std::chrono::milliseconds min_resolve_interval{100};
  // REDIS_READ_FROM (the settings constructor takes the setting's): where single read-only
  // commands go. `replica`: a replica from SENTINEL replicas (an error when none is usable);
  // `replica_preferred`: a replica, or the master when there is none or it failed.
  RedisReadFrom read_from = RedisReadFrom::master;
  // Subscribe to +switch-master (one connection to one sentinel, in a thread of the client's
  // own); false: follow failovers from command errors alone.
  bool follow_switch_messages = true;
  // The subscribed sentinel gets a PING when it has been silent this long, and is replaced when
  // it does not answer before the next one.
  std::chrono::milliseconds subscriber_ping_interval{1000};
};

// Failovers followed, by what made the client ask: the sum is SentinelStats::failovers.
struct SentinelFailoverCauses {
  std::uint64_t subscription = 0;  // a +switch-master message from a sentinel
  std::uint64_t error = 0;         // a command failed (connection error, READONLY)
  std::uint64_t query = 0;         // resolve_master() or health() asked the sentinels
};

struct SentinelStats {
  std::string master;               // host:port in use; empty before the first command
  ClientStats client{};             // the master's pool and commands
  std::uint64_t resolves = 0;       // times the sentinels were asked for the master
  std::uint64_t failovers = 0;      // times the master moved and the pool was replaced
  std::uint64_t retries = 0;        // calls repeated after a failure of the master
  std::string replica;              // host:port reads go to (REDIS_READ_FROM); empty: none
  std::uint64_t replica_reads = 0;  // read-only commands a replica answered
  SentinelFailoverCauses failovers_followed{};
  // The sentinel whose +switch-master messages the client listens to (host:port); empty: none
  // now (not started, or between sentinels).
  std::string subscribed_to;
  std::uint64_t resubscriptions = 0;  // subscriptions after the first (a sentinel lost)
};

struct SentinelNodeHealth {
  std::string address;  // host:port
  bool ok = false;      // answered (PING for a sentinel, ROLE for a data node)
  std::string role;     // ROLE's first word for data nodes; "sentinel" for sentinels
  std::string error{};  // why not, when !ok (never a secret)
};

struct SentinelHealth {
  std::string master_name;                    // REDIS_SENTINEL_MASTER
  SentinelNodeHealth master;                  // the master the client uses
  std::vector<SentinelNodeHealth> replicas;   // SENTINEL replicas (flags as error when down)
  std::vector<SentinelNodeHealth> sentinels;  // REDIS_URL's, then the others they know
  PoolStats pool{};
  // The master answers as a master, and at least one sentinel answers.
  bool ok() const noexcept;
};

class SentinelClient : public Commands<SentinelClient> {
 public:
  // redis://[user:password@]s1:p1,s2:p2/0: the sentinels; `master_name` the monitored master.
  SentinelClient(std::string_view url, std::string master_name, SentinelOptions options = {},
                 std::optional<std::string> sentinel_password = std::nullopt);
  // REDIS_URL, REDIS_SENTINEL_MASTER, REDIS_SENTINEL_PASSWORD and every other REDIS_* variable.
  explicit SentinelClient(const RedisSettings& settings, SentinelOptions options = {});
  ~SentinelClient();
  SentinelClient(const SentinelClient&) = delete;
  SentinelClient& operator=(const SentinelClient&) = delete;

  // Any command, on the master. Throws as redis::Client does.
  Reply command(std::span<const Arg> args);
  using Commands<SentinelClient>::command;  // command("GET", key), ... (redis_commands.hpp)

  // get, set, del, mget, the hash, list and set helpers: redis_commands.hpp.

  // Asks the sentinels now (no rate limit) and switches to the master they name; returns its
  // host:port. Throws ConnectError when no sentinel answers or the master does not confirm,
  // ConfigError when the sentinels answer but none monitors REDIS_SENTINEL_MASTER.
  std::string resolve_master();
  // The master in use (host:port), resolved first if there is none yet.
  std::string master_address();
  SentinelStats stats() const;
  // The master (ROLE), its replicas and the sentinels, as the sentinels see them now.
  SentinelHealth health();
  // Closes the pool; later calls throw PoolClosedError.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolkit::redis
