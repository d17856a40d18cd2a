// SentinelClient's public face: constructors, stats, and health: the master, its replicas and
// the sentinels as the sentinels see them.

#include <fmt/format.h>

#include <algorithm>

#include "../client_access.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"
#include "sentinel_impl.hpp"

namespace poolkit::redis {
namespace {

using detail::NodeAddress;

// One entry of SENTINEL replicas / SENTINEL sentinels: a flat list of field names and values.
std::optional<std::string> field(const Reply& entry, std::string_view name) {
  if (entry.type() != Reply::Type::array) return std::nullopt;
  const auto& words = entry.as_array();
  for (std::size_t i = 0; i + 1 < words.size(); i += 2) {
    if (words[i].type() == Reply::Type::string && words[i].as_string() == name &&
        words[i + 1].type() == Reply::Type::string) {
      return words[i + 1].as_string();
    }
  }
  return std::nullopt;
}

// A replica or sentinel the sentinels list: ok unless flagged down (s_down, o_down,
// disconnected), the flags then given as the reason.
SentinelNodeHealth node_of(const Reply& entry, std::string role) {
  SentinelNodeHealth node;
  node.address =
      fmt::format("{}:{}", field(entry, "ip").value_or("?"), field(entry, "port").value_or("?"));
  node.role = std::move(role);
  const std::string flags = field(entry, "flags").value_or("");
  node.ok =
      flags.find("down") == std::string::npos && flags.find("disconnected") == std::string::npos;
  if (!node.ok) node.error = "flags " + flags;
  return node;
}

RedisSettings settings_of_url(std::string_view text, std::string master_name, const Options& node,
                              std::optional<std::string> password, RedisReadFrom read_from) {
  RedisSettings settings = detail::settings_of_node_options(text, RedisMode::sentinel, node);
  settings.sentinel_master = std::move(master_name);
  settings.sentinel_password = std::move(password);
  settings.read_from = read_from;
  return settings;
}

}  // namespace

bool SentinelHealth::ok() const noexcept {
  return master.ok && std::any_of(sentinels.begin(), sentinels.end(),
                                  [](const SentinelNodeHealth& s) { return s.ok; });
}

SentinelClient::SentinelClient(std::string_view url, std::string master_name,
                               SentinelOptions options,
                               std::optional<std::string> sentinel_password)
    : impl_(std::make_unique<Impl>(settings_of_url(url, std::move(master_name), options.node,
                                                   std::move(sentinel_password), options.read_from),
                                   options)) {}

SentinelClient::SentinelClient(const RedisSettings& settings, SentinelOptions options)
    : impl_(std::make_unique<Impl>(settings, std::move(options))) {}

SentinelClient::~SentinelClient() = default;

Reply SentinelClient::command(std::span<const Arg> args) {
  return impl_->run(args);
}

std::string SentinelClient::resolve_master() {
  impl_->resolve(true, Impl::Cause::query);
  return impl_->master_text();
}

std::string SentinelClient::master_address() {
  impl_->current();
  return impl_->master_text();
}

std::string SentinelClient::Impl::master_text() const {
  const std::lock_guard lock(mutex);
  return master ? master->text() : std::string();
}

Reply SentinelClient::Impl::ask_first_sentinel(std::string_view what, std::string& error) {
  for (const Sentinel& sentinel : sentinels) {
    try {
      return sentinel.client->command("SENTINEL", what, master_name);
    } catch (const Error& e) {
      error = fmt::format("sentinel {}: {}", sentinel.address.text(), e.what());
    }
  }
  return Reply();
}

SentinelStats SentinelClient::stats() const {
  SentinelStats stats;
  std::shared_ptr<Client> client;
  {
    const std::lock_guard lock(impl_->mutex);
    client = impl_->client;
    if (impl_->master) stats.master = impl_->master->text();
    if (impl_->replica_address) stats.replica = impl_->replica_address->text();
    if (impl_->watcher) {
      if (const auto index = impl_->watcher->subscribed_to()) {
        stats.subscribed_to = impl_->sentinels.at(*index).address.text();
      }
      stats.resubscriptions = impl_->watcher->resubscriptions();
    }
  }
  if (client) stats.client = client->stats();
  stats.resolves = impl_->resolves;
  stats.failovers = impl_->failovers;
  stats.retries = impl_->retries;
  stats.replica_reads = impl_->replica_reads;
  stats.failovers_followed = {
      .subscription = impl_->by_subscription, .error = impl_->by_error, .query = impl_->by_query};
  return stats;
}

SentinelHealth SentinelClient::health() {
  SentinelHealth health;
  health.master_name = impl_->master_name;
  for (const Impl::Sentinel& sentinel : impl_->sentinels) {
    SentinelNodeHealth node{.address = sentinel.address.text(), .role = "sentinel"};
    try {
      sentinel.client->ping();
      node.ok = true;
    } catch (const Error& e) {
      node.error = e.what();
    }
    health.sentinels.push_back(std::move(node));
  }
  try {
    impl_->resolve(true, Impl::Cause::query);
    const std::shared_ptr<Client> client = impl_->current();
    health.master.address = impl_->master_text();
    health.master.role = client->command("ROLE").as_array().at(0).as_string();
    health.master.ok = health.master.role == "master";
    health.pool = client->stats().pool;
  } catch (const std::exception& e) {  // Error, or a malformed ROLE reply
    health.master.address = impl_->master_text();
    health.master.error = e.what();
  }
  std::string error;
  const Reply replicas = impl_->ask_first_sentinel("replicas", error);
  if (replicas.type() == Reply::Type::array) {
    for (const Reply& entry : replicas.as_array()) {
      health.replicas.push_back(node_of(entry, "replica"));
    }
  }
  // The sentinels the others know, beyond those REDIS_URL lists (each knows all but itself).
  const Reply others = impl_->ask_first_sentinel("sentinels", error);
  if (others.type() == Reply::Type::array) {
    for (const Reply& entry : others.as_array()) {
      SentinelNodeHealth node = node_of(entry, "sentinel");
      const bool listed = std::any_of(health.sentinels.begin(), health.sentinels.end(),
                                      [&](const auto& s) { return s.address == node.address; });
      if (!listed) health.sentinels.push_back(std::move(node));
    }
  }
  return health;
}

void SentinelClient::close() {
  std::shared_ptr<Client> client;
  {
    // Under the mutex, so that install() sees `closed` or close() sees the pool it installed.
    const std::lock_guard lock(impl_->mutex);
    impl_->closed = true;
    client = impl_->client;
  }
  impl_->stop_watcher();  // before the sentinels' clients it opens connections with
  if (client) client->close();
  for (const Impl::Sentinel& sentinel : impl_->sentinels) sentinel.client->close();
}

}  // namespace poolkit::redis
