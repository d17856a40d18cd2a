#pragma once
// AsyncClusterClient's insides: the slot table it routes by, one lazily opened AsyncClient per
// node, and the cluster thread that resends redirected and retried calls (so that no node's I/O
// thread ever waits for another node's pending slot, a refresh or a backoff).

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../async/call_state.hpp"
#include "../client_access.hpp"
#include "../cluster/key_slot.hpp"
#include "../cluster/topology.hpp"
#include "poolkit/backoff.hpp"
#include "poolkit/error.hpp"
#include "poolkit/operation_stats.hpp"
#include "poolkit/redis_async_cluster.hpp"
#include "poolkit/redis_cluster.hpp"

namespace poolkit::redis::detail {

using Clock = std::chrono::steady_clock;

// One node's async client, opened when a command first goes there.
class AsyncNode {
 public:
  AsyncNode(std::string address, std::string url, const AsyncOptions& options)
      : address_(std::move(address)), url_(std::move(url)), options_(&options) {}

  const std::string& address() const noexcept { return address_; }
  AsyncClient& client();
  // The client when it has been opened; nullptr otherwise.
  AsyncClient* opened() const noexcept { return ready_.load(std::memory_order_acquire); }

 private:
  std::string address_;          // host:port
  std::string url_;              // the seeds' URL with this node's address (holds the password)
  const AsyncOptions* options_;  // the cluster client's (it outlives every node)
  std::mutex mutex_;             // taken only until the client exists
  std::unique_ptr<AsyncClient> client_;
  std::atomic<AsyncClient*> ready_{nullptr};
};

// The slot → master table calls route by; immutable, replaced as a whole by a refresh or a MOVED.
struct SlotTable {
  static constexpr std::int16_t kNone = -1;
  SlotTable() { owner.fill(kNone); }

  std::shared_ptr<AsyncNode> master_of(std::uint16_t slot) const {
    const std::int16_t index = owner[slot];
    return index == kNone ? nullptr : nodes[static_cast<std::size_t>(index)];
  }

  std::vector<std::shared_ptr<AsyncNode>> nodes;  // the masters
  std::array<std::int16_t, kClusterSlots> owner{};
};

// One caller's command, from its first send to its last resend.
struct ClusterCall {
  std::vector<std::string> words;  // kept for resending
  std::optional<std::uint16_t> slot;
  bool idempotent = false;
  MetricName name;
  CallHandle user;  // what the caller waits on
  Clock::time_point started;
  Clock::time_point deadline;  // of the retry budget
  int redirects = 0;
  int waits = 0;     // backoffs taken (TRYAGAIN, CLUSTERDOWN, failed nodes)
  std::string path;  // the nodes it went to, "a -> b", for the give-up message
};
using CallPtr = std::shared_ptr<ClusterCall>;

// A call to send again, by the cluster thread, when due.
struct Resend {
  Clock::time_point due;
  CallPtr call;
  std::optional<NodeAddress> target;  // a redirect's; nullopt: the slot's owner in the table
  bool asking = false;
};

}  // namespace poolkit::redis::detail

namespace poolkit::redis {

struct AsyncClusterClient::Impl {
  using Clock = detail::Clock;

  Impl(RedisSettings seeds, AsyncOptions node, AsyncClusterOptions options);
  ~Impl();

  // --- the callers' side ---
  // Routes and sends; returns the caller's handle (empty with a callback).
  detail::CallHandle start(std::span<const Arg> args, Callback* callback);
  // Hands the call to `node` (after ASKING when asked). Throws what AsyncClient::send throws.
  void dispatch(const detail::CallPtr& call, const std::shared_ptr<detail::AsyncNode>& node,
                bool asking);

  // --- completions (a node's I/O thread) ---
  void on_result(const detail::CallPtr& call, const std::string& node, AsyncResult result);
  void on_server_error(const detail::CallPtr& call, const std::string& node,
                       const ServerError& error);
  void on_failure(const detail::CallPtr& call, const Error& error);
  // Schedules the next try after a backoff; false when that would pass the call's budget.
  bool retry_later(const detail::CallPtr& call);
  void complete(detail::ClusterCall& call, Reply reply);
  void fail(detail::ClusterCall& call, const std::exception_ptr& error, std::string_view outcome);

  // --- the cluster thread ---
  void schedule(detail::Resend resend);
  void run() noexcept;
  void resend(detail::Resend& resend);
  void close_retired();

  // --- the slot map ---
  std::shared_ptr<const detail::SlotTable> table() const;
  std::shared_ptr<const detail::SlotTable> ensure_table();
  void refresh(bool force);
  void note_moved(std::uint16_t slot, const detail::NodeAddress& target);
  std::shared_ptr<detail::AsyncNode> node_at(const std::string& address);

  void close();

  RedisSettings seeds;
  AsyncOptions node_options;
  AsyncClusterOptions options;
  std::chrono::milliseconds retry_budget;
  std::string seeds_text;  // redacted, for messages
  // Reads the slot map (CLUSTER SHARDS, or CLUSTER SLOTS before Redis 7) for this client: one
  // pooled connection per node, used only by refreshes.
  ClusterClient topology;

  mutable std::mutex map_mutex;  // guards current, registry, retired
  std::shared_ptr<const detail::SlotTable> current;
  std::map<std::string, std::shared_ptr<detail::AsyncNode>> registry;
  // Nodes that left the map: closed by the cluster thread once no call uses them, so a client
  // is never destroyed on its own I/O thread.
  std::vector<std::shared_ptr<detail::AsyncNode>> retired;

  std::mutex refresh_mutex;  // one refresh at a time
  Clock::time_point last_refresh{};
  std::string last_refresh_error;
  std::atomic<Clock::rep> next_refresh{0};  // last_refresh + min_refresh_interval
  std::atomic<bool> refresh_wanted{false};  // by a MOVED, a failed node, CLUSTERDOWN

  std::mutex queue_mutex;
  std::condition_variable queue_changed;
  std::vector<detail::Resend> queue;  // a min-heap by due time; guarded by queue_mutex
  bool stopping = false;              // guarded by queue_mutex
  std::atomic<bool> closed{false};
  std::thread thread;
  std::thread::id thread_id;

  OperationStats operations;
  Backoff backoff{.base = std::chrono::milliseconds(10),
                  .cap = std::chrono::milliseconds(200),
                  .jitter = std::chrono::milliseconds(0),
                  .jitter_ratio = 0.5};
  std::atomic<std::uint64_t> refreshes{0}, moved{0}, asked{0}, try_again{0}, node_failures{0},
      retries{0};
};

}  // namespace poolkit::redis
