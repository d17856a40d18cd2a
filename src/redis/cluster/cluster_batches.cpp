// Commands that travel together: pipelines (one per node), multi-key commands split by slot and
// put back together, and transactions on one slot.

#include <fmt/format.h>

#include <map>
#include <set>
#include <thread>

#include "../client_access.hpp"
#include "cluster_impl.hpp"
#include "poolkit/error.hpp"

namespace poolkit::redis {
namespace {

using detail::ClusterNode;

std::vector<Arg> args_of(const std::vector<std::string>& words) {
  return std::vector<Arg>(words.begin(), words.end());
}

// A reply that says "not here" or "not now": the command was not executed and may be sent again.
bool must_reroute(const Reply& reply) {
  if (!reply.is_error()) return false;
  const std::string& text = reply.error_text();
  return text.starts_with("MOVED ") || text.starts_with("ASK ") || text.starts_with("READONLY") ||
         detail::is_retry_later(text);
}

}  // namespace

std::vector<Reply> ClusterClient::Impl::execute_batch(
    const std::vector<std::vector<std::string>>& commands, std::string_view name) {
  // Every command is judged before anything is sent: one spanning slots fails the batch.
  std::vector<std::optional<std::uint16_t>> slots;
  // Reads alone (a pipeline of them, a split MGET's parts) go where REDIS_READ_FROM sends
  // reads; one write keeps the whole batch on the masters, in order with its reads.
  bool reads_only = options.read_from != RedisReadFrom::master;
  for (const auto& words : commands) {
    const std::vector<Arg> args = args_of(words);
    const auto routing = detail::route_of(args);
    bool spans = false;
    slots.push_back(detail::common_slot(args, routing, spans));
    if (spans) throw_cross_slot(args, "a pipeline does not split its commands");
    reads_only = reads_only && routing.read_only;
  }
  ensure_map();
  const auto snapshot = current_map();
  std::map<std::shared_ptr<ClusterNode>, std::vector<std::size_t>> by_node;
  std::set<std::shared_ptr<ClusterNode>> replicas;  // of by_node's: READONLY first
  std::map<const detail::Shard*, std::shared_ptr<ClusterNode>> chosen;  // one node per shard
  for (std::size_t i = 0; i < commands.size(); ++i) {
    std::shared_ptr<ClusterNode> node;
    const detail::Shard* shard = slots[i] ? snapshot->shard_of(*slots[i]) : nullptr;
    if (!slots[i]) {
      node = snapshot->any_master();
    } else if (shard != nullptr && reads_only) {
      auto [at, added] = chosen.try_emplace(shard);
      if (added) {
        Prefix prefix = Prefix::none;
        at->second = choose(*snapshot, slots[i], true, false, prefix);
        if (prefix == Prefix::readonly) replicas.insert(at->second);
      }
      node = at->second;
    } else if (shard != nullptr) {
      node = shard->master;
    }
    if (node) by_node[node].push_back(i);  // else: no shard serves it now, routed one by one
  }
  std::vector<Reply> replies(commands.size());
  std::vector<bool> answered(commands.size(), false);
  std::vector<std::string> answered_by(commands.size());  // host, for a redirect without one
  for (const auto& [node, indexes] : by_node) {
    std::vector<std::vector<std::string>> group;
    bool idempotent = true;
    for (const std::size_t i : indexes) {
      group.push_back(commands[i]);
      idempotent = idempotent && is_idempotent(args_of(commands[i]));
    }
    bool entered = false;
    const bool replica = replicas.contains(node);
    try {
      std::vector<Reply> got =
          send_batch(*node, group, replica ? Prefix::readonly : Prefix::none, name, entered);
      if (replica) replica_reads.fetch_add(group.size(), std::memory_order_relaxed);
      for (std::size_t k = 0; k < indexes.size(); ++k) {
        replies[indexes[k]] = std::move(got[k]);
        answered[indexes[k]] = true;
        answered_by[indexes[k]] = node->address().host;
      }
    } catch (const Error& error) {
      const bool node_failure = error.code() == ErrorCode::connect ||
                                error.code() == ErrorCode::timeout ||
                                error.code() == ErrorCode::pool_cleared;
      // As redis::Client's pipelines: repeated after a write only when every command may be.
      if (!node_failure || (entered && error.may_have_run() && !idempotent)) throw;
      node_failures.fetch_add(1, std::memory_order_relaxed);
      // Its reads go one by one to another replica, or to the master (replica_preferred).
      if (replica) node->note_failure(kReplicaQuarantine);
      try {
        refresh(false);
      } catch (const Error&) {
      }
    }
  }
  for (std::size_t i = 0; i < commands.size(); ++i) {
    if (answered[i] && !must_reroute(replies[i])) continue;
    const std::vector<Arg> args = args_of(commands[i]);
    Start start;
    start.read = reads_only;
    if (answered[i]) {
      const auto redirect = detail::parse_redirect(replies[i].error_text(), answered_by[i]);
      if (redirect && redirect->kind == detail::Redirect::Kind::moved) {
        note_moved(redirect->slot, redirect->target);
        start.redirects_used = 1;
      } else if (redirect) {
        asked.fetch_add(1, std::memory_order_relaxed);
        start = Start{node_at(redirect->target), Prefix::asking, 1};
      }
    }
    replies[i] = run_routed(args, slots[i], std::move(start));
  }
  return replies;
}

Reply ClusterClient::Impl::execute_split(std::span<const Arg> args,
                                         const detail::CommandRouting& routing) {
  split_commands.fetch_add(1, std::memory_order_relaxed);
  // One sub-command per slot, keys in the caller's order within it.
  std::map<std::uint16_t, std::size_t> group_of_slot;
  std::vector<std::vector<std::size_t>> keys_of_group;  // positions in routing.key_indexes
  std::vector<std::vector<std::string>> commands;
  for (std::size_t k = 0; k < routing.key_indexes.size(); ++k) {
    const std::size_t at = routing.key_indexes[k];
    const auto slot = detail::key_slot(args[at].view());
    auto [found, added] = group_of_slot.try_emplace(slot, commands.size());
    if (added) {
      commands.push_back({std::string(args.front().view())});
      keys_of_group.emplace_back();
    }
    auto& words = commands[found->second];
    for (std::size_t part = 0; part < routing.key_stride && at + part < args.size(); ++part) {
      words.emplace_back(args[at + part].view());
    }
    keys_of_group[found->second].push_back(k);
  }
  const std::vector<Reply> replies = execute_batch(commands, detail::MetricName(args).view());
  for (std::size_t g = 0; g < replies.size(); ++g) {
    if (replies[g].is_error()) throw_reply_error(replies[g], args, "(split by slot)");
  }
  switch (routing.split) {
    case detail::SplitKind::concat_values: {
      std::vector<Reply> values(routing.key_indexes.size());
      for (std::size_t g = 0; g < replies.size(); ++g) {
        const auto& part = replies[g].as_array();
        for (std::size_t k = 0; k < keys_of_group[g].size() && k < part.size(); ++k) {
          values[keys_of_group[g][k]] = part[k];
        }
      }
      return Reply::array(std::move(values));
    }
    case detail::SplitKind::sum_integers: {
      long long total = 0;
      for (const Reply& reply : replies) total += reply.as_integer();
      return Reply::integer(total);
    }
    case detail::SplitKind::all_ok:
    case detail::SplitKind::none:
      break;
  }
  return Reply::status("OK");
}

// ---------------------------------------------------------------------------------------------

ClusterPipeline& ClusterPipeline::add(std::span<const Arg> args) {
  auto& words = commands_.emplace_back();
  for (const Arg& arg : args) words.emplace_back(arg.view());
  return *this;
}

std::vector<Reply> ClusterPipeline::execute() {
  auto commands = std::exchange(commands_, {});
  if (commands.empty()) return {};
  return client_->impl_->execute_batch(commands);
}

void ClusterTransaction::require_slot(std::span<const Arg> args) const {
  const auto routing = detail::route_of(args);
  for (const std::size_t at : routing.key_indexes) {
    const auto slot = detail::key_slot(args[at].view());
    if (slot != slot_) {
      throw ServerError(
          Backend::redis,
          fmt::format("CROSSSLOT {} in a transaction on slot {} (node {}) uses a key of slot "
                      "{}: every key of a cluster transaction must share one slot; nothing of it "
                      "was sent. Give the keys one {{hash tag}} (e.g. {{user42}}.cart)",
                      args.empty() ? "" : args.front().view(), slot_, node_, slot));
    }
  }
}

Reply ClusterTransaction::command(std::span<const Arg> args) {
  require_slot(args);
  return connection_->command(args);
}

ClusterTransaction& ClusterTransaction::queue(std::span<const Arg> args) {
  require_slot(args);
  auto& words = queued_.emplace_back();
  for (const Arg& arg : args) words.emplace_back(arg.view());
  return *this;
}

std::optional<std::vector<Reply>> ClusterClient::transaction(
    const std::function<void(ClusterTransaction&)>& body, std::span<const std::string> watch) {
  if (watch.empty()) {
    throw ServerError(Backend::redis,
                      "a Redis Cluster transaction runs on one slot: name it with "
                      "transaction(key, body) or watch at least one key");
  }
  return transaction(watch.front(), body, watch);
}

std::optional<std::vector<Reply>> ClusterClient::transaction(
    std::string_view key, const std::function<void(ClusterTransaction&)>& body,
    std::span<const std::string> watch) {
  Impl& impl = *impl_;
  const std::uint16_t slot = detail::key_slot(key);
  std::vector<Arg> watch_args{"WATCH"};
  watch_args.insert(watch_args.end(), watch.begin(), watch.end());
  for (const std::string& watched : watch) {
    if (detail::key_slot(watched) != slot) {
      impl.throw_cross_slot(watch_args, "a transaction runs on one slot");
    }
  }
  const auto started = Impl::Clock::now();
  for (int redirects = 0;; ++redirects) {
    impl.ensure_map();
    auto node = impl.current_map()->master_of(slot);
    if (!node) throw ServerError(Backend::redis, fmt::format("no node serves slot {}", slot), true);
    std::optional<std::vector<Reply>> result;
    std::optional<detail::Redirect> redirect;
    bool later = false;
    // Counted in the node's metrics as TRANSACTION, a redirect as "server", as the one-server
    // client counts it.
    detail::ClientAccess::run(node->client(), "TRANSACTION", [&](Connection& connection) {
      // A redirect before EXEC means nothing ran: the transaction is tried again elsewhere.
      const auto note = [&](std::string_view text) {
        redirect = detail::parse_redirect(text, node->address().host);
        later = !redirect && detail::is_retry_later(text);
        return redirect || later;
      };
      if (!watch.empty()) {
        connection.append(watch_args);
        connection.flush();
        const Reply watched = connection.read_reply();
        if (watched.is_error() && note(watched.error_text())) return true;
        if (watched.is_error()) impl.throw_reply_error(watched, watch_args, node->address().text());
      }
      ClusterTransaction transaction(connection, slot, node->address().text());
      try {
        body(transaction);
      } catch (const ServerError& error) {
        if (!watch.empty() && !connection.broken()) connection.command("UNWATCH");
        if (note(error.what())) return true;
        throw;
      } catch (...) {
        if (!watch.empty() && !connection.broken()) connection.command("UNWATCH");
        throw;
      }
      connection.append(std::vector<Arg>{"MULTI"});
      for (const auto& queued : transaction.queued_) connection.append(args_of(queued));
      connection.append(std::vector<Arg>{"EXEC"});
      connection.flush();
      bool rerouted = false;
      for (std::size_t i = 0; i <= transaction.queued_.size(); ++i) {
        const Reply queued = connection.read_reply();
        if (queued.is_error() && !rerouted) rerouted = note(queued.error_text());
      }
      const Reply exec = connection.read_reply();
      if (exec.is_error() && rerouted) return true;  // EXECABORT: nothing ran
      if (exec.is_error()) {
        impl.throw_reply_error(exec, std::vector<Arg>{"EXEC"}, node->address().text());
      }
      if (!exec.is_nil()) result = exec.as_array();
      return false;
    });
    if (!redirect && !later) return result;
    if (redirects >= impl.options.max_redirects ||
        Impl::Clock::now() - started > impl.retry_budget) {
      throw ServerError(Backend::redis,
                        fmt::format("gave up on a transaction on slot {} of the Redis Cluster "
                                    "after {} tries: the slot is moving; retry later",
                                    slot, redirects + 1));
    }
    if (redirect && redirect->kind == detail::Redirect::Kind::moved) {
      impl.note_moved(redirect->slot, redirect->target);
    } else {
      impl.try_again.fetch_add(1, std::memory_order_relaxed);
      std::this_thread::sleep_for(impl.delay(redirects + 1));
    }
  }
}

}  // namespace poolkit::redis
