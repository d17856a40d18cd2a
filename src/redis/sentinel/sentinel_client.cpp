// SentinelClient: finding the master through the sentinels, and one command on it that follows
// a failover (include/poolkit/redis_sentinel.hpp says what is retried).

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "../../core/settings_detail.hpp"
#include "../cluster/command_keys.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"
#include "sentinel_impl.hpp"

namespace poolkit::redis {
namespace {

using detail::NodeAddress;

std::vector<NodeAddress> sentinels_of(const RedisSettings& settings) {
  if (!settings.url) {
    throw ConfigError(
        fmt::format("{} is not set: list the sentinels, e.g. "
                    "redis://127.0.0.1:26379,127.0.0.1:26380",
                    setting::kRedisUrl));
  }
  const Url& url = *settings.url;
  std::string problem = poolkit::detail::redis_url_problem(url);
  if (problem.empty()) problem = poolkit::detail::redis_hosts_problem(url, RedisMode::sentinel);
  if (!problem.empty()) {
    throw ConfigError(fmt::format("{} ({}): {}", setting::kRedisUrl, url.redacted(), problem));
  }
  if (!settings.sentinel_master || settings.sentinel_master->empty()) {
    throw ConfigError(
        fmt::format("{} is not set: name the master the sentinels monitor, e.g. "
                    "mymaster",
                    setting::kRedisSentinelMaster));
  }
  std::vector<NodeAddress> sentinels;
  for (const UrlHost& host : url.hosts) sentinels.push_back({host.name, host.port.value_or(26379)});
  return sentinels;
}

// A sentinel's client: the URL's scheme and TLS options, but the sentinels' own password (none
// when REDIS_SENTINEL_PASSWORD is unset: the data nodes' password is not theirs to see), short
// timeouts and no retries of its own, since the next sentinel is the retry.
RedisSettings sentinel_settings(const RedisSettings& settings, const NodeAddress& address,
                                std::chrono::milliseconds timeout) {
  RedisSettings one = settings;
  one.mode = RedisMode::standalone;
  one.url = detail::url_for_node(*settings.url, address);
  one.url->username.clear();
  one.url->password = settings.sentinel_password;
  std::erase_if(one.url->query, [](const UrlQueryParam& p) { return p.key == "password"; });
  one.max_connections = 2;
  one.connect_timeout = std::min(settings.connect_timeout, timeout);
  one.socket_timeout = std::min(settings.socket_timeout, timeout);
  one.wait_timeout = timeout;
  one.retry_attempts = 0;
  return one;
}

// A READONLY reply: the node was a master and has been demoted; nothing of the command ran.
bool is_readonly(const ServerError& error) {
  return std::string_view(error.what()).starts_with("READONLY");
}

// Whether a failed call may be sent again to the (possibly new) master. A connect failure wrote
// nothing; a connection lost or timed out after the command was written may have run it
// (Error::may_have_run), so only idempotent commands are repeated then, as redis::Client does.
bool may_repeat(const Error& error, std::span<const Arg> args) {
  switch (error.code()) {
    case ErrorCode::connect:
    case ErrorCode::timeout:
      return !error.may_have_run() || is_idempotent(args);
    case ErrorCode::pool_cleared:
      return true;  // cleared while waiting for a connection: nothing sent
    default:
      return false;
  }
}

// ROLE questions to a master a +switch-master announced before it is left to the command path.
constexpr int kAnnouncedConfirmAttempts = 4;

// SENTINEL get-master-addr-by-name's [host, port]; nullopt when malformed.
std::optional<NodeAddress> master_address_of(const Reply& reply) {
  try {
    const auto& words = reply.as_array();
    return NodeAddress{words.at(0).as_string(), std::stoi(words.at(1).as_string())};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

SentinelClient::Impl::Impl(RedisSettings settings, SentinelOptions sentinel_options)
    : data_settings(std::move(settings)),
      data_options(Options::from(data_settings, sentinel_options.node)),
      options(std::move(sentinel_options)),
      retry_budget(options.retry_budget.count() > 0 ? options.retry_budget
                                                    : data_options.socket_timeout) {
  const std::vector<NodeAddress> addresses = sentinels_of(data_settings);
  master_name = *data_settings.sentinel_master;
  sentinels_text = data_settings.url->redacted();
  for (const NodeAddress& address : addresses) {
    RedisSettings one = sentinel_settings(data_settings, address, options.sentinel_timeout);
    const Options one_options =
        Options::from(one, Options{.client_name = data_options.client_name});
    sentinels.push_back({address, std::make_unique<Client>(one, one_options)});
  }
  data_settings.mode = RedisMode::standalone;  // the master's client talks to that one node
}

SentinelClient::Impl::~Impl() {
  stop_watcher();
}

void SentinelClient::Impl::start_watcher_locked() {
  if (!options.follow_switch_messages || watcher || closed || sentinels.empty()) return;
  detail::SwitchWatcher::Hooks hooks{
      .open = [this](std::size_t index) { return sentinels.at(index).client->open_unpooled(); },
      .switched = [this](const NodeAddress& address,
                         std::size_t index) { follow_announced(address, index); },
      .subscribed = [this](std::size_t index) { check_after_subscribing(index); }};
  watcher = std::make_unique<detail::SwitchWatcher>(sentinels.size(), master_name, std::move(hooks),
                                                    options.subscriber_ping_interval);
}

void SentinelClient::Impl::stop_watcher() noexcept {
  detail::SwitchWatcher* running = nullptr;
  {
    const std::lock_guard lock(mutex);
    running = watcher.get();
  }
  if (running != nullptr) running->stop();
}

void SentinelClient::Impl::follow_announced(const NodeAddress& address,
                                            std::size_t index) noexcept {
  try {
    const std::lock_guard resolving(resolve_mutex);
    {
      const std::lock_guard lock(mutex);
      if (closed || master == address) return;  // the command path got there first
    }
    // The announced master may still be finishing its promotion, or slow to accept a
    // connection (a TLS handshake on a loaded host): a few tries, a moment apart.
    std::string errors;
    std::shared_ptr<Client> confirmed;
    for (int attempt = 1; !confirm(address, confirmed, errors); ++attempt) {
      if (attempt >= kAnnouncedConfirmAttempts || closed) return;
      std::this_thread::sleep_for(backoff.delay(attempt));
    }
    install(address, std::move(confirmed), Cause::subscription);
    last_resolve = Clock::now();
    if (data_settings.read_from != RedisReadFrom::master) choose_replica(index);
  } catch (...) {
    // Closed meanwhile, or out of memory: the command path still follows from its errors.
  }
}

void SentinelClient::Impl::check_after_subscribing(std::size_t index) noexcept {
  try {
    const Reply reply =
        sentinels.at(index).client->command("SENTINEL", "get-master-addr-by-name", master_name);
    if (const auto address = master_address_of(reply)) follow_announced(*address, index);
  } catch (...) {
    // The sentinel went again; the subscriber finds that and takes the next one.
  }
}

std::shared_ptr<Client> SentinelClient::Impl::current() {
  if (closed) throw PoolClosedError(Backend::redis, "the Redis Sentinel client is closed");
  {
    const std::lock_guard lock(mutex);
    if (client) return client;
  }
  resolve(false, Cause::query);
  const std::lock_guard lock(mutex);
  if (!client) {
    throw ConnectError(Backend::redis,
                       fmt::format("no master for {}={} yet (sentinels {})",
                                   setting::kRedisSentinelMaster, master_name, sentinels_text));
  }
  return client;
}

bool SentinelClient::Impl::confirm(const NodeAddress& address, std::shared_ptr<Client>& confirmed,
                                   std::string& errors) {
  {
    const std::lock_guard lock(mutex);
    if (master == address) confirmed = client;
  }
  if (!confirmed) {
    RedisSettings one = data_settings;
    one.url = detail::url_for_node(*data_settings.url, address);
    confirmed = std::make_shared<Client>(one, data_options);
  }
  try {
    const Reply role = confirmed->command("ROLE");
    const std::string& word = role.as_array().at(0).as_string();
    if (word == "master") return true;
    errors += fmt::format("; {} answers ROLE {}, not master (a failover in progress)",
                          address.text(), word);
  } catch (const Error& error) {
    errors += fmt::format("; {} (ROLE): {}", address.text(), error.what());
  } catch (const std::out_of_range&) {
    errors += fmt::format("; {} gave an empty ROLE reply", address.text());
  }
  confirmed.reset();
  return false;
}

// The old pool is cleared (its idle connections closed, those in use discarded on return) and
// dropped; callers still holding it finish with it and meet the new master on their retry.
void SentinelClient::Impl::install(const NodeAddress& address, std::shared_ptr<Client> fresh,
                                   Cause cause) {
  std::shared_ptr<Client> old;
  {
    const std::lock_guard lock(mutex);
    if (client == fresh) return;
    if (closed) {  // close() ran while the sentinels were asked: keep no open pool behind it
      fresh->close();
      throw PoolClosedError(Backend::redis, "the Redis Sentinel client is closed");
    }
    old = std::exchange(client, std::move(fresh));
    master = address;
    start_watcher_locked();
  }
  if (old) {
    ++failovers;
    ++(cause == Cause::subscription ? by_subscription
       : cause == Cause::error      ? by_error
                                    : by_query);
    old->clear();
  }
}

void SentinelClient::Impl::resolve(bool force, Cause cause) {
  const std::lock_guard resolving(resolve_mutex);
  const auto started = Clock::now();
  {
    const std::lock_guard lock(mutex);
    if (!force && client && started - last_resolve < options.min_resolve_interval) return;
  }
  last_resolve = started;
  ++resolves;
  std::string errors;
  int answered = 0, named = 0;
  bool only_tls_failures = true;  // every sentinel refused our TLS (a wrong CA): a TlsError
  for (std::size_t index = 0; index < sentinels.size(); ++index) {
    const Sentinel& sentinel = sentinels[index];
    if (closed) throw PoolClosedError(Backend::redis, "the Redis Sentinel client is closed");
    Reply reply;
    try {
      reply = sentinel.client->command("SENTINEL", "get-master-addr-by-name", master_name);
    } catch (const Error& error) {
      errors += fmt::format("; sentinel {}: {}", sentinel.address.text(), error.what());
      only_tls_failures = only_tls_failures && error.code() == ErrorCode::tls;
      continue;
    }
    ++answered;
    if (reply.is_nil()) {
      errors +=
          fmt::format("; sentinel {} monitors no master of that name", sentinel.address.text());
      continue;
    }
    ++named;
    const std::optional<NodeAddress> address = master_address_of(reply);
    if (!address) {
      errors += fmt::format("; sentinel {} gave a malformed address", sentinel.address.text());
      continue;
    }
    std::shared_ptr<Client> confirmed;
    if (confirm(*address, confirmed, errors)) {
      install(*address, std::move(confirmed), cause);
      if (data_settings.read_from != RedisReadFrom::master) choose_replica(index);
      return;
    }
  }
  if (answered > 0 && named == 0) {
    throw ConfigError(fmt::format(
        "{}={}: none of the sentinels ({}) monitors a master of that name; expected the name "
        "given to 'sentinel monitor' in their configuration{}",
        setting::kRedisSentinelMaster, master_name, sentinels_text, errors));
  }
  const std::string message =
      fmt::format("no master for {}={} could be reached through the sentinels ({}){}",
                  setting::kRedisSentinelMaster, master_name, sentinels_text, errors);
  if (answered == 0 && only_tls_failures && !sentinels.empty()) {
    throw TlsError(Backend::redis, message);
  }
  throw ConnectError(Backend::redis, message);
}

Reply SentinelClient::Impl::run(std::span<const Arg> args) {
  if (data_settings.read_from != RedisReadFrom::master) {
    if (auto reply = try_replica(args)) return std::move(*reply);
  }
  const auto deadline = Clock::now() + retry_budget;
  for (int attempt = 1;; ++attempt) {
    std::shared_ptr<Client> used;
    try {
      used = current();
      return used->command(args);
    } catch (const ServerError& error) {
      if (!is_readonly(error) || Clock::now() >= deadline) throw;
    } catch (const PoolClosedError&) {
      // A pool replaced by a failover while this call held it; the current one is still open.
      const std::lock_guard lock(mutex);
      if (closed || !used || used == client || Clock::now() >= deadline) throw;
    } catch (const Error& error) {
      // No answer from the sentinels (nothing sent), or the master failed.
      if (!error.retryable() || Clock::now() >= deadline) throw;
      if (used && !may_repeat(error, args)) throw;
    }
    ++retries;
    try {
      resolve(false, Cause::error);
    } catch (const ConfigError&) {
      throw;
    } catch (const Error&) {
      // The sentinels have not elected a new master yet: wait and ask again.
    }
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) continue;  // the next failure throws
    std::this_thread::sleep_for(std::min<Clock::duration>(backoff.delay(attempt), left));
  }
}

std::optional<Reply> SentinelClient::Impl::try_replica(std::span<const Arg> args) {
  if (!detail::route_of(args).read_only) return std::nullopt;
  const bool required = data_settings.read_from == RedisReadFrom::replica;
  try {
    current();  // the replica is chosen with the master
  } catch (const Error&) {
    if (required) throw;
    return std::nullopt;  // the master's path waits for the sentinels within its budget
  }
  std::shared_ptr<Client> chosen;
  {
    const std::lock_guard lock(mutex);
    chosen = replica;
  }
  if (!chosen) {
    if (!required) return std::nullopt;
    throw ConnectError(Backend::redis,
                       fmt::format("{}=replica, but the sentinels ({}) list no usable replica of "
                                   "{}={}; use replica_preferred to fall back to the master",
                                   setting::kRedisReadFrom, sentinels_text,
                                   setting::kRedisSentinelMaster, master_name));
  }
  try {
    Reply reply = chosen->command(args);
    ++replica_reads;
    return reply;
  } catch (const ServerError&) {
    throw;  // the command's own error: the master would give the same
  } catch (const Error&) {
    if (required) throw;
    return std::nullopt;  // replica_preferred: the master answers instead
  }
}

void SentinelClient::Impl::choose_replica(std::size_t index) {
  std::optional<NodeAddress> chosen;
  try {
    const Reply listed = sentinels.at(index).client->command("SENTINEL", "replicas", master_name);
    for (const Reply& entry : listed.as_array()) {
      std::optional<std::string> ip, port, flags;
      const auto& words = entry.as_array();
      for (std::size_t i = 0; i + 1 < words.size(); i += 2) {
        const std::string& name = words[i].as_string();
        if (name == "ip") ip = words[i + 1].as_string();
        if (name == "port") port = words[i + 1].as_string();
        if (name == "flags") flags = words[i + 1].as_string();
      }
      const bool down = !flags || flags->find("down") != std::string::npos ||
                        flags->find("disconnected") != std::string::npos;
      if (ip && port && !down) {
        chosen = NodeAddress{*ip, std::stoi(*port)};
        break;
      }
    }
  } catch (const std::exception&) {
    // No list (a sentinel gone, a malformed reply): reads go as read_from says without one.
  }
  const std::lock_guard lock(mutex);
  if (chosen == master) chosen.reset();
  if (chosen == replica_address && (replica || !chosen)) return;
  replica_address = chosen;
  if (replica) replica->clear();
  replica.reset();
  if (chosen) {
    RedisSettings one = data_settings;
    one.url = detail::url_for_node(*data_settings.url, *chosen);
    replica = std::make_shared<Client>(one, data_options);
  }
}

}  // namespace poolkit::redis
