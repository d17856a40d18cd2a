#pragma once
// The async client over a Redis Cluster (REDIS_MODE=cluster): each command goes to its key's
// slot's master, on that node's own redis::AsyncClient (REDIS_MULTIPLEX_CONNECTIONS multiplexed
// connections and one I/O thread per node, opened when a command first goes there and closed
// when the node leaves the map). The API is AsyncClient's: futures, callbacks, awaitables and
// the blocking helpers of redis::Commands.
//
//   poolkit::redis::AsyncClusterClient redis(settings.redis);   // REDIS_URL lists seed nodes
//   std::optional<std::string> v = co_await redis.async_get("{user42}.name");
//   long long n = redis.incr("visits");                         // blocking (send + wait)
//
// What is followed and retried, as redis::ClusterClient does, but without blocking an I/O
// thread (the completion hands the call to the client's cluster thread, which resends it):
//   MOVED       the slot's owner is updated at once, the whole map read again (at most once per
//               min_refresh_interval), and the command resent to the new owner;
//   ASK         ASKING and the command back to back on one connection of the target;
//   TRYAGAIN,   resent after a backoff (a timer on the cluster thread) until the call's retry
//   CLUSTERDOWN budget is spent;
//   a failed node (ConnectError, TimeoutError): the map is refreshed and the command resent to
//               the slot's owner within the budget when nothing of it was written (Sent::no) or
//               it is idempotent (redis::is_idempotent); any other fails with the node's typed
//               error, whose may_have_run() is true.
// At most max_redirects MOVED/ASK per call, then a ServerError naming the slot and the nodes.
// Keys in several slots are refused before anything is sent (CROSSSLOT, as ClusterClient words
// it); this client does not split MGET/DEL/MSET by slot: use {hash tags} or ClusterClient.
//
// REDIS_MAX_PENDING bounds each node's client, not the whole cluster client: a slow node makes
// its own callers wait, not everyone's.

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/operation_stats.hpp"
#include "poolkit/redis.hpp"
#include "poolkit/redis_async.hpp"

namespace poolkit::redis {

struct AsyncClusterOptions {
  // Every node's async client (REDIS_MULTIPLEX_CONNECTIONS and REDIS_MAX_PENDING are per node);
  // the fields RedisSettings holds are taken from the settings by the settings constructor.
  AsyncOptions node{};
  // MOVED and ASK followed in one call before giving up.
  int max_redirects = 5;
  // How long one call keeps retrying TRYAGAIN, CLUSTERDOWN and failed nodes (with backoff);
  // 0: the node options' socket_timeout (REDIS_SOCKET_TIMEOUT).
  std::chrono::milliseconds retry_budget{0};
  // Topology refreshes are at least this far apart.
  std::chrono::milliseconds min_refresh_interval{100};
};

struct AsyncClusterNodeStats {
  std::string address;      // host:port
  std::size_t slots = 0;    // slots it serves as master in the client's map
  bool has_client = false;  // its async client has been opened
  AsyncClientStats client{};
};

struct AsyncClusterStats {
  std::vector<AsyncClusterNodeStats> nodes;  // the masters of the current map
  std::vector<OperationSnapshot> commands;   // by command name and outcome, whole cluster
  std::uint64_t topology_refreshes = 0;      // slot maps read
  std::uint64_t moved = 0;                   // MOVED redirects followed
  std::uint64_t ask = 0;                     // ASK redirects followed
  std::uint64_t try_again = 0;               // TRYAGAIN / CLUSTERDOWN waited out
  std::uint64_t node_failures = 0;           // replies that were a failed node's error
  std::uint64_t retries = 0;                 // calls resent after a failed node
};

class AsyncClusterClient : public Commands<AsyncClusterClient>,
                           public AsyncCommands<AsyncClusterClient> {
 public:
  // redis://[user:password@]h1:p1,h2:p2/0: the seed nodes (any of them; one is enough). The
  // slot map is read when the first command is sent.
  explicit AsyncClusterClient(std::string_view url, AsyncClusterOptions options = {});
  // REDIS_URL and every REDIS_* variable; `options` gives what they don't cover.
  explicit AsyncClusterClient(const RedisSettings& settings, AsyncClusterOptions options = {});
  // Closes (see close()).
  ~AsyncClusterClient();
  AsyncClusterClient(const AsyncClusterClient&) = delete;
  AsyncClusterClient& operator=(const AsyncClusterClient&) = delete;

  // As AsyncClient::send: the reply in a future, or handed to a callback (which runs on a node's
  // I/O thread or on the cluster thread: keep it short, never block in it). Throws ServerError
  // (CROSSSLOT) before sending when the keys span slots, ConfigError for a refused command.
  std::future<Reply> send(std::span<const Arg> args);
  void send(std::span<const Arg> args, Callback callback);
  using AsyncCommands<AsyncClusterClient>::send;

  // The awaitable of any command. A coroutine resumes on the I/O thread of the node that
  // answered (or the cluster thread after a redirect), unless an executor says otherwise.
  Awaitable<Reply> async_command(std::span<const Arg> args);
  // async_command("GET", key) and the typed awaitables (async_get, ...): AsyncCommands'.
  using AsyncCommands<AsyncClusterClient>::async_command;

  // Blocking: send and wait; what the typed helpers of redis::Commands call.
  Reply command(std::span<const Arg> args) { return async_command(args).get(); }
  using Commands<AsyncClusterClient>::command;

  // Reads the slot map now (bypassing the rate limit); throws ConnectError when no node answers.
  void refresh_topology();
  // The master serving `slot` in the client's map, as host:port; empty when none does.
  std::string master_address(std::uint16_t slot) const;
  AsyncClusterStats stats() const;
  // Fails every pending command with PoolClosedError and closes every node's client.
  // Idempotent; later calls throw PoolClosedError.
  void close();

  struct Impl;  // src/redis/async_cluster/

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace poolkit::redis
