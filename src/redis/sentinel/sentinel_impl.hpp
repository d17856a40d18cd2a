#pragma once
// SentinelClient's state: the sentinels, the master in use and its pool, and the questions that
// find the master again after a failover. Shared by sentinel_client.cpp (resolution, commands)
// and sentinel_health.cpp (health, stats, helpers).

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "../cluster/topology.hpp"
#include "poolkit/backoff.hpp"
#include "poolkit/redis_sentinel.hpp"
#include "switch_watcher.hpp"

namespace poolkit::redis {

struct SentinelClient::Impl {
  using Clock = std::chrono::steady_clock;

  struct Sentinel {
    detail::NodeAddress address;
    std::unique_ptr<Client> client;  // small pool, short timeouts, the sentinels' password
  };

  // What made the client ask the sentinels (SentinelStats::failovers_followed).
  enum class Cause { subscription, error, query };

  Impl(RedisSettings settings, SentinelOptions options);
  ~Impl();  // stops the subscriber before anything it uses goes

  // The master's client, the sentinels asked first when there is none yet.
  std::shared_ptr<Client> current();
  // Asks the sentinels in turn for the master and confirms it with ROLE; switches the pool when
  // it moved. Unless forced, does nothing when the last question is younger than
  // min_resolve_interval (concurrent callers wait for the one in progress).
  void resolve(bool force, Cause cause);
  // A sentinel (the one at `index`) announced the master at `address`: moves there once ROLE
  // confirms it. An unconfirmed announcement changes nothing (the command path still follows).
  void follow_announced(const detail::NodeAddress& address, std::size_t index) noexcept;
  // The subscriber (re)connected to the sentinel at `index`: a switch it announced while nobody
  // listened is found by asking it.
  void check_after_subscribing(std::size_t index) noexcept;
  // Stops the subscriber, if one runs (close() and the destructor).
  void stop_watcher() noexcept;
  // One command on the master, following a failover within the retry budget.
  Reply run(std::span<const Arg> args);

  // The sentinels' view of the master's replicas and of each other, for health().
  Reply ask_first_sentinel(std::string_view what, std::string& error);
  std::string master_text() const;

  RedisSettings data_settings;  // the URL's credentials and TLS; its host replaced per master
  Options data_options;
  SentinelOptions options;
  std::string master_name;
  std::chrono::milliseconds retry_budget;
  std::string sentinels_text;  // REDIS_URL, redacted, for messages
  std::vector<Sentinel> sentinels;

  mutable std::mutex mutex;  // guards master, client, replica_address and replica
  std::optional<detail::NodeAddress> master;
  std::shared_ptr<Client> client;
  std::optional<detail::NodeAddress> replica_address;  // REDIS_READ_FROM's replica
  std::shared_ptr<Client> replica;

  std::mutex resolve_mutex;  // one question round at a time
  Clock::time_point last_resolve{};
  std::atomic<bool> closed{false};

  Backoff backoff{.base = std::chrono::milliseconds(20),
                  .cap = std::chrono::milliseconds(250),
                  .jitter = std::chrono::milliseconds(0),
                  .jitter_ratio = 0.5};
  std::atomic<std::uint64_t> resolves{0}, failovers{0}, retries{0}, replica_reads{0};
  std::atomic<std::uint64_t> by_subscription{0}, by_error{0}, by_query{0};
  // +switch-master's subscriber, started with the first master (guarded by mutex; never reset
  // before the destructor, so a pointer read under the mutex stays valid).
  std::unique_ptr<detail::SwitchWatcher> watcher;

  // A read-only command on the replica when REDIS_READ_FROM asks for one; nullopt when it goes
  // to the master (REDIS_READ_FROM=master, a write, or replica_preferred with no replica).
  std::optional<Reply> try_replica(std::span<const Arg> args);
  // The first replica the sentinel at `index` lists as up (not the master); its pool replaced
  // when it changed. Failures leave no replica: reads then go as read_from says.
  void choose_replica(std::size_t index);

 private:
  // ROLE on `address`: true, with `confirmed` the pool to use, when it answers as a master.
  bool confirm(const detail::NodeAddress& address, std::shared_ptr<Client>& confirmed,
               std::string& errors);
  void install(const detail::NodeAddress& address, std::shared_ptr<Client> fresh, Cause cause);
  // Under `mutex`: starts the subscriber once there is a master to follow.
  void start_watcher_locked();
};

}  // namespace poolkit::redis
