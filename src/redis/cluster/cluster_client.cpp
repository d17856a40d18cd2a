// ClusterClient: the slot map, and one command routed to its slot's owner with the cluster's
// redirects and retries (include/poolkit/redis_cluster.hpp says what is followed and retried).

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <thread>

#include "../../core/settings_detail.hpp"
#include "../client_access.hpp"
#include "cluster_impl.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::redis {
namespace {

using detail::ClusterNode;
using detail::NodeAddress;

constexpr std::string_view kAsking = "ASKING";
constexpr std::string_view kReadOnly = "READONLY";

// A failure of the node rather than of the command: the map may be stale (a failover, a node
// gone), so it is refreshed and the command may go elsewhere.
bool is_node_failure(const Error& error) {
  return error.code() == ErrorCode::connect || error.code() == ErrorCode::timeout ||
         error.code() == ErrorCode::pool_cleared;
}

// The nodes a call went through, for its error message: "a:1 -> b:2".
std::string path_of(const std::vector<std::shared_ptr<ClusterNode>>& visited) {
  std::string path;
  for (const auto& node : visited) {
    path += (path.empty() ? "" : " -> ") + node->address().text();
  }
  return path;
}

RedisSettings settings_of_url(std::string_view text, const Options& node, RedisReadFrom read_from) {
  // Every node's client takes node.tls: rediss:// seeds make rediss:// nodes.
  RedisSettings settings = detail::settings_of_node_options(text, RedisMode::cluster, node);
  settings.read_from = read_from;
  return settings;
}

std::vector<NodeAddress> seeds_of(const RedisSettings& settings) {
  if (!settings.url) {
    throw ConfigError(
        fmt::format("{} is not set: list the cluster's seed nodes, e.g. "
                    "redis://127.0.0.1:7000,127.0.0.1:7001",
                    setting::kRedisUrl));
  }
  const Url& url = *settings.url;
  std::string problem = poolkit::detail::redis_url_problem(url);
  if (problem.empty()) problem = poolkit::detail::redis_hosts_problem(url, RedisMode::cluster);
  if (problem.empty() && settings.mode == RedisMode::sentinel) {
    problem = fmt::format("{} is sentinel: a ClusterClient needs a cluster's seed nodes",
                          setting::kRedisMode);
  }
  if (!problem.empty()) {
    throw ConfigError(fmt::format("{} ({}): {}", setting::kRedisUrl, url.redacted(), problem));
  }
  std::vector<NodeAddress> seeds;
  for (const UrlHost& host : url.hosts) seeds.push_back({host.name, host.port.value_or(6379)});
  return seeds;
}

}  // namespace

ClusterClient::Impl::Impl(RedisSettings seeds_settings, ClusterOptions cluster_options)
    : node_settings(std::move(seeds_settings)),
      node_options(Options::from(node_settings, cluster_options.node)),
      options(std::move(cluster_options)),
      retry_budget(options.retry_budget.count() > 0 ? options.retry_budget
                                                    : node_options.socket_timeout),
      seeds(seeds_of(node_settings)),
      seeds_text(node_settings.url->redacted()),
      map(std::make_shared<const detail::SlotMap>()) {
  // Each node's client talks to that one node.
  node_settings.mode = RedisMode::standalone;
}

std::shared_ptr<const detail::SlotMap> ClusterClient::Impl::current_map() const {
  const std::lock_guard lock(map_mutex);
  return map;
}

std::shared_ptr<ClusterNode> ClusterClient::Impl::node_at(const NodeAddress& address) {
  const std::lock_guard lock(map_mutex);
  auto& node = registry[address];
  if (!node) {
    RedisSettings settings = node_settings;
    settings.url = detail::url_for_node(*node_settings.url, address);
    node = std::make_shared<ClusterNode>(address, std::move(settings), node_options);
  }
  return node;
}

void ClusterClient::Impl::refresh(bool force) {
  const std::lock_guard refreshing(refresh_mutex);
  const auto started = Clock::now();
  if (!force && started - last_refresh < options.min_refresh_interval) return;
  // Masters first (they know the map best), then replicas, then the seeds.
  std::vector<NodeAddress> candidates;
  const auto add = [&](const NodeAddress& address) {
    if (std::find(candidates.begin(), candidates.end(), address) == candidates.end()) {
      candidates.push_back(address);
    }
  };
  const auto old_map = current_map();
  for (const auto& shard : old_map->shards()) add(shard.master->address());
  for (const auto& shard : old_map->shards()) {
    for (const auto& replica : shard.replicas) add(replica->address());
  }
  for (const NodeAddress& seed : seeds) add(seed);

  std::string last_error = "no node to ask";
  bool only_tls_failures = true;  // every node refused our TLS (a wrong CA): a TlsError
  for (const NodeAddress& candidate : candidates) {
    if (closed) throw PoolClosedError(Backend::redis, "the Redis Cluster client is closed");
    std::vector<detail::ShardInfo> shards;
    try {
      Client& client = node_at(candidate)->client();
      try {
        shards = detail::parse_cluster_shards(client.command("CLUSTER", "SHARDS"), candidate.host,
                                              node_settings.url->scheme == "rediss");
      } catch (const ServerError&) {  // before Redis 7: no CLUSTER SHARDS
        shards = detail::parse_cluster_slots(client.command("CLUSTER", "SLOTS"), candidate.host);
      }
    } catch (const Error& error) {
      last_error = fmt::format("{}: {}", candidate.text(), error.what());
      only_tls_failures = only_tls_failures && error.code() == ErrorCode::tls;
      continue;
    }
    only_tls_failures = false;
    if (shards.empty()) continue;  // a node that has not joined yet knows no slots
    auto fresh = std::make_shared<detail::SlotMap>();
    std::set<NodeAddress> listed;
    for (const detail::ShardInfo& info : shards) {
      detail::Shard shard{node_at(info.master), {}};
      listed.insert(info.master);
      for (const NodeAddress& replica : info.replicas) {
        shard.replicas.push_back(node_at(replica));
        listed.insert(replica);
      }
      fresh->add(std::move(shard), info.slots);
    }
    const std::lock_guard lock(map_mutex);
    map = std::move(fresh);
    // Nodes gone from the map leave the registry; their pools close once no call holds them.
    std::erase_if(registry, [&](const auto& entry) { return !listed.contains(entry.first); });
    last_refresh = Clock::now();
    refreshes.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  last_refresh = Clock::now();  // a cluster that does not answer is not asked again at once
  last_refresh_error = fmt::format(
      "no node of the Redis Cluster at {} gave its slot map (CLUSTER SHARDS / CLUSTER SLOTS); "
      "last: {}; check {}",
      seeds_text, last_error, setting::kRedisUrl);
  last_refresh_tls = only_tls_failures;
  throw_refresh_error();
}

void ClusterClient::Impl::throw_refresh_error() const {
  if (last_refresh_tls) throw TlsError(Backend::redis, last_refresh_error);
  throw ConnectError(Backend::redis, last_refresh_error);
}

std::shared_ptr<const detail::SlotMap> ClusterClient::Impl::ensure_map() {
  auto current = current_map();
  if (!current->shards().empty()) return current;
  // Rate-limited: many first callers share one refresh; those it leaves without a map get the
  // error that refresh met.
  refresh(false);
  current = current_map();
  if (current->shards().empty()) {
    const std::lock_guard refreshing(refresh_mutex);
    if (last_refresh_error.empty()) {
      throw ConnectError(Backend::redis, "the Redis Cluster's slot map is empty");
    }
    throw_refresh_error();
  }
  return current;
}

void ClusterClient::Impl::note_moved(std::uint16_t slot, const NodeAddress& target) {
  moved.fetch_add(1, std::memory_order_relaxed);
  auto node = node_at(target);
  {
    const std::lock_guard lock(map_mutex);
    if (map->master_of(slot) != node) {
      map = std::make_shared<const detail::SlotMap>(map->with_slot_moved(slot, std::move(node)));
    }
  }
  // One MOVED usually means more slots moved (a reshard): read the whole map, rate-limited.
  try {
    refresh(false);
  } catch (const Error&) {
    // The slot's new owner is known; the next refresh may do better.
  }
}

Reply ClusterClient::Impl::send(ClusterNode& node, std::span<const Arg> args, Prefix prefix,
                                bool& entered) {
  // The callable captures one reference, so std::function keeps it inline rather than
  // allocating it on every command.
  struct Call {
    std::span<const Arg> args;
    Prefix prefix;
    bool& entered;
    Reply reply;
  } call{args, prefix, entered, {}};
  // Counted in the node's metrics under the command's name, an error reply (MOVED, ASK, ...)
  // as "server", as the one-server client counts it.
  detail::ClientAccess::run(
      node.client(), detail::MetricName(args).view(), [&call](Connection& connection) {
        call.entered = true;
        // ASKING holds for the next command on this connection only, so both go in one write.
        // READONLY lasts for the connection, but a pooled connection does not say whether it was
        // sent; sending it with every read costs no extra round trip.
        if (call.prefix != Prefix::none) {
          connection.append(std::vector<Arg>{call.prefix == Prefix::asking ? kAsking : kReadOnly});
        }
        connection.append(call.args);
        connection.flush();
        if (call.prefix != Prefix::none) connection.read_reply();  // OK
        call.reply = connection.read_reply();
        return call.reply.is_error();
      });
  return std::move(call.reply);
}

std::shared_ptr<ClusterNode> ClusterClient::Impl::choose(const detail::SlotMap& snapshot,
                                                         std::optional<std::uint16_t> slot,
                                                         bool read, bool replica_failed,
                                                         Prefix& prefix) {
  prefix = Prefix::none;
  if (!slot) return snapshot.any_master();
  const detail::Shard* shard = snapshot.shard_of(*slot);
  if (shard == nullptr) return nullptr;
  const bool strict = options.read_from == RedisReadFrom::replica;
  const bool to_replica =
      read && options.read_from != RedisReadFrom::master && (strict || !replica_failed);
  if (!to_replica) return shard->master;
  if (shard->replicas.empty()) {
    if (!strict) return shard->master;
    throw ServerError(Backend::redis,
                      fmt::format("no replica of slot {}'s master ({}) is known, and {}=replica "
                                  "reads only from replicas; use replica_preferred to fall back "
                                  "to the master",
                                  *slot, shard->master->address().text(), setting::kRedisReadFrom),
                      true);
  }
  // Round robin over the replicas, passing over one that failed a moment ago.
  const std::size_t count = shard->replicas.size();
  const auto start = next_replica.fetch_add(1, std::memory_order_relaxed);
  for (std::size_t i = 0; i < count; ++i) {
    const auto& replica = shard->replicas[(start + i) % count];
    if (replica->recently_failed()) continue;
    prefix = Prefix::readonly;
    return replica;
  }
  if (!strict) return shard->master;
  prefix = Prefix::readonly;  // every replica failed lately: try one again rather than none
  return shard->replicas[start % count];
}

std::vector<Reply> ClusterClient::Impl::send_batch(
    ClusterNode& node, const std::vector<std::vector<std::string>>& commands, Prefix prefix,
    std::string_view name, bool& entered) {
  std::vector<Reply> replies;
  detail::ClientAccess::run(node.client(), name, [&](Connection& connection) {
    entered = true;
    if (prefix == Prefix::readonly) connection.append(std::vector<Arg>{kReadOnly});
    for (const auto& words : commands) {
      const std::vector<Arg> args(words.begin(), words.end());
      connection.append(args);
    }
    connection.flush();
    if (prefix == Prefix::readonly) connection.read_reply();  // OK
    replies.clear();
    for (std::size_t i = 0; i < commands.size(); ++i) replies.push_back(connection.read_reply());
    return false;  // error replies are the caller's, in place, as in a pipeline
  });
  return replies;
}

Reply ClusterClient::Impl::run_routed(std::span<const Arg> args, std::optional<std::uint16_t> slot,
                                      Start start) {
  if (closed) throw PoolClosedError(Backend::redis, "the Redis Cluster client is closed");
  const auto deadline = Clock::now() + retry_budget;
  int redirects = start.redirects_used;
  // For the give-up message, formatted only then; held so that a node leaving the map meanwhile
  // can still be named. Noted only when the call moves on from a node, so that a command its
  // first node answers allocates nothing for it.
  std::vector<std::shared_ptr<ClusterNode>> visited;
  std::shared_ptr<ClusterNode> target = std::move(start.node);
  const auto leave_target = [&] {
    if (visited.empty() || visited.back() != target) visited.push_back(target);
  };
  Prefix prefix = start.prefix;
  bool replica_failed = false;
  for (int attempt = 1;; ++attempt) {
    if (!target) {
      auto current = current_map();
      if (current->shards().empty()) current = ensure_map();
      target = choose(*current, slot, start.read, replica_failed, prefix);
      if (prefix == Prefix::readonly) replica_reads.fetch_add(1, std::memory_order_relaxed);
    }
    // Waits before the next try when the budget allows it; false when it is spent.
    const auto wait_more = [&] {
      const auto pause = delay(attempt);
      if (Clock::now() + pause >= deadline) return false;
      std::this_thread::sleep_for(pause);
      return true;
    };
    if (!target) {  // no shard serves the slot now (a failover in progress)
      try_again.fetch_add(1, std::memory_order_relaxed);
      if (!wait_more()) {
        throw ServerError(Backend::redis,
                          fmt::format("CLUSTERDOWN no node of the Redis Cluster at {} serves "
                                      "slot {} (the map was read {} times)",
                                      seeds_text, slot.value_or(0), refreshes.load()),
                          true);
      }
      try {
        refresh(false);
      } catch (const Error&) {
      }
      continue;
    }
    bool entered = false;
    Reply reply;
    try {
      reply = send(*target, args, prefix, entered);
    } catch (const Error& error) {
      if (!is_node_failure(error)) throw;
      leave_target();
      node_failures.fetch_add(1, std::memory_order_relaxed);
      if (prefix == Prefix::readonly) {
        replica_failed = true;
        target->note_failure(kReplicaQuarantine);
      }
      try {
        refresh(false);
      } catch (const Error&) {
      }
      // As redis::Client: a command that may have run is repeated only if idempotent.
      if ((entered && error.may_have_run() && !is_idempotent(args)) || !wait_more()) throw;
      target.reset();
      continue;
    }
    prefix = Prefix::none;
    if (!reply.is_error()) return reply;
    const std::string& text = reply.error_text();
    if (const auto redirect = detail::parse_redirect(text, target->address().host)) {
      leave_target();
      if (++redirects > options.max_redirects) {
        throw ServerError(
            Backend::redis,
            fmt::format("gave up on slot {} of the Redis Cluster after {} redirects (MOVED/ASK) "
                        "through {}: the slot keeps moving; retry later, or raise "
                        "ClusterOptions::max_redirects",
                        redirect->slot, options.max_redirects, path_of(visited)));
      }
      if (redirect->kind == detail::Redirect::Kind::moved) {
        note_moved(redirect->slot, redirect->target);
      } else {
        asked.fetch_add(1, std::memory_order_relaxed);
        prefix = Prefix::asking;
      }
      target = node_at(redirect->target);
      continue;
    }
    const bool not_master_any_more = text.starts_with("READONLY");  // a failed-over master
    if (detail::is_retry_later(text) || not_master_any_more) {
      leave_target();
      try_again.fetch_add(1, std::memory_order_relaxed);
      if (!wait_more()) return reply;
      if (not_master_any_more || text.starts_with("CLUSTERDOWN")) {
        try {
          refresh(false);
        } catch (const Error&) {
        }
      }
      target.reset();
      continue;
    }
    return reply;
  }
}

void ClusterClient::Impl::throw_reply_error(const Reply& reply, std::span<const Arg> args,
                                            const std::string& node) const {
  throw ServerError(Backend::redis,
                    fmt::format("{} (Redis Cluster {}, command {})", reply.error_text(), node,
                                args.empty() ? "" : args.front().view()));
}

void ClusterClient::Impl::throw_cross_slot(std::span<const Arg> args, std::string_view why) const {
  throw ServerError(
      Backend::redis,
      fmt::format("CROSSSLOT the keys of {} hash to several slots of the Redis Cluster at {}, "
                  "and {}; nothing was sent. Give the keys one {{hash tag}} (e.g. {{user42}}.a, "
                  "{{user42}}.b) so they share a slot",
                  args.empty() ? "" : args.front().view(), seeds_text, why));
}

Reply ClusterClient::Impl::execute(std::span<const Arg> args) {
  const auto started = Clock::now();
  const detail::MetricName name(args);
  try {
    const detail::CommandRouting routing = detail::route_of(args);
    bool spans = false;
    const auto slot = detail::common_slot(args, routing, spans);
    Reply reply;
    if (spans) {
      if (routing.split == detail::SplitKind::none) {
        throw_cross_slot(args,
                         "this command is not split across slots (only MGET, MSET, DEL, "
                         "UNLINK, EXISTS and TOUCH are)");
      }
      reply = execute_split(args, routing);
    } else {
      reply = run_routed(args, slot, Start{nullptr, Prefix::none, 0, routing.read_only});
      if (reply.is_error()) {
        const auto owner = slot ? current_map()->master_of(*slot) : nullptr;
        throw_reply_error(reply, args, owner ? owner->address().text() : seeds_text);
      }
    }
    operations.record(name.view(), "ok", Clock::now() - started);
    return reply;
  } catch (const Error& error) {
    operations.record(name.view(), to_string(error.code()), Clock::now() - started);
    throw;
  }
}

// ---------------------------------------------------------------------------------------------

ClusterClient::ClusterClient(std::string_view url, ClusterOptions options)
    : ClusterClient(settings_of_url(url, options.node, options.read_from), options) {}

ClusterClient::ClusterClient(const RedisSettings& settings, ClusterOptions options)
    : impl_(std::make_unique<Impl>(settings, [&] {
        options.read_from = settings.read_from;
        return std::move(options);
      }())) {}

ClusterClient::~ClusterClient() = default;

Reply ClusterClient::command(std::span<const Arg> args) {
  return impl_->execute(args);
}

void ClusterClient::refresh_topology() {
  impl_->refresh(true);
}

std::string ClusterClient::master_address(std::uint16_t slot) const {
  const auto node = impl_->current_map()->master_of(slot);
  return node ? node->address().text() : std::string();
}

}  // namespace poolkit::redis
