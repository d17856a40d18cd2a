#pragma once
// The SentinelClient's subscriber: one thread holding one connection to one sentinel, subscribed
// to +switch-master, so the client learns of a failover when the sentinels complete it rather
// than when a command fails. A sentinel that goes away is replaced by the next one, after a
// backoff; one that stops answering is found by a PING every ping_interval.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "../cluster/topology.hpp"
#include "poolkit/backoff.hpp"
#include "poolkit/redis.hpp"

namespace poolkit::redis::detail {

// A +switch-master message's text: "<master name> <old ip> <old port> <new ip> <new port>". The
// new address when the message is about `master_name`, else nullopt (another master, or text
// that does not parse).
std::optional<NodeAddress> switched_master(std::string_view message, std::string_view master_name);

class SwitchWatcher {
 public:
  struct Hooks {
    // A connection to the sentinel at `index` (its password, TLS and short timeouts); throws
    // poolkit::Error when it cannot be opened.
    std::function<Connection(std::size_t index)> open;
    // The sentinel at `index` announced that the master is now at `address`.
    std::function<void(const NodeAddress& address, std::size_t index)> switched;
    // Subscribed to the sentinel at `index` (again): a switch announced while no subscription
    // was listening is found by asking it.
    std::function<void(std::size_t index)> subscribed;
  };

  // Starts the thread; `sentinels` > 0.
  SwitchWatcher(std::size_t sentinels, std::string master_name, Hooks hooks,
                std::chrono::milliseconds ping_interval);
  ~SwitchWatcher();  // stop()
  SwitchWatcher(const SwitchWatcher&) = delete;
  SwitchWatcher& operator=(const SwitchWatcher&) = delete;

  // Wakes the thread (in a wait, or between reads) and joins it: returns within one read or
  // connect timeout of the sentinels. Idempotent.
  void stop() noexcept;

  // The sentinel listened to now, if any.
  std::optional<std::size_t> subscribed_to() const noexcept;
  // Subscriptions made after the first (a sentinel lost, another one taken).
  std::uint64_t resubscriptions() const noexcept { return resubscriptions_.load(); }

 private:
  void run();
  // Reads and handles messages until stop() or a failure (thrown).
  void listen(Connection& connection, std::size_t index);
  // Waits until `fd` is readable (true) or the wake pipe is (false), for at most `timeout`;
  // nullopt on timeout. fd < 0: waits for the wake pipe alone.
  std::optional<bool> wait_readable(int fd, std::chrono::milliseconds timeout) const;

  std::size_t sentinels_;
  std::string master_name_;
  Hooks hooks_;
  std::chrono::milliseconds ping_interval_;
  Backoff backoff_{.base = std::chrono::milliseconds(100),
                   .cap = std::chrono::milliseconds(2000),
                   .jitter = std::chrono::milliseconds(0),
                   .jitter_ratio = 0.5};
  int wake_read_ = -1;
  int wake_write_ = -1;
  std::atomic<bool> stopping_{false};
  std::atomic<long long> subscribed_to_{-1};
  std::atomic<std::uint64_t> resubscriptions_{0};
  std::once_flag joined_;
  std::thread thread_;  // last: started once everything above is ready
};

}  // namespace poolkit::redis::detail
