// AsyncClusterClient: each command routed by its slot to that node's AsyncClient. A reply that
// redirects or asks to wait is handled in the completion on the node's I/O thread only as far
// as that is cheap (the MOVED slot's new owner noted); the resend itself is handed to the cluster
// thread, which may wait (for another node's pending slot, a refresh, a backoff's timer) where
// an I/O thread must not.

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "../cluster/command_keys.hpp"
#include "async_cluster_impl.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::redis {
namespace detail {

AsyncClient& AsyncNode::client() {
  if (AsyncClient* ready = ready_.load(std::memory_order_acquire)) return *ready;
  const std::lock_guard lock(mutex_);
  if (!client_) {
    client_ = std::make_unique<AsyncClient>(url_, *options_);
    ready_.store(client_.get(), std::memory_order_release);
  }
  return *client_;
}

}  // namespace detail

namespace {

using detail::CallPtr;
using detail::NodeAddress;

// "host:port", or "[v6]:port", as NodeAddress::text() and ClusterClient::master_address() give.
NodeAddress address_of(std::string_view text) {
  const auto colon = text.rfind(':');
  std::string_view host = text.substr(0, colon);
  if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
  int port = 0;
  for (const char c : text.substr(colon + 1)) port = port * 10 + (c - '0');
  return {std::string(host), port};
}

// A failure of the node rather than of the command (as ClusterClient decides): the map may be
// stale, so it is refreshed and the command may go elsewhere. PoolClosedError: the node's client
// was closed under the call because the node left the map.
bool is_node_failure(const Error& error) {
  return error.code() == ErrorCode::connect || error.code() == ErrorCode::timeout ||
         error.code() == ErrorCode::pool_closed;
}

// The node's error as an object of the caller's own. The node's client fails every command of a
// lost connection with one shared exception object, and each caller drops its reference on its
// own thread (as the sanitizers see it, a race on the shared object's count).
std::exception_ptr own_copy(const Error& error) {
  const std::string message = error.what();
  const Backend backend = error.backend();
  switch (error.code()) {
    case ErrorCode::config:
      return std::make_exception_ptr(ConfigError(message));
    case ErrorCode::pool_timeout:
      return std::make_exception_ptr(PoolTimeoutError(backend, message));
    case ErrorCode::pool_closed:
      return std::make_exception_ptr(PoolClosedError(backend, message));
    case ErrorCode::pool_cleared:
      return std::make_exception_ptr(PoolClearedError(backend, message));
    case ErrorCode::connect:
      return std::make_exception_ptr(ConnectError(backend, message, error.sent()));
    case ErrorCode::tls:
      return std::make_exception_ptr(TlsError(backend, message, error.retryable()));
    case ErrorCode::timeout:
      return std::make_exception_ptr(TimeoutError(backend, message, error.sent()));
    case ErrorCode::protocol:
      return std::make_exception_ptr(ProtocolError(backend, message));
    case ErrorCode::server:
      return std::make_exception_ptr(ServerError(backend, message, error.retryable()));
    case ErrorCode::circuit_open:
      return std::make_exception_ptr(CircuitOpenError(backend, message));
  }
  return std::make_exception_ptr(
      Error(error.code(), backend, error.retryable(), message, error.sent()));
}

// The topology reader's settings: the seeds', one pooled connection per node.
RedisSettings topology_settings(RedisSettings seeds, const AsyncOptions& node) {
  seeds.mode = RedisMode::cluster;
  seeds.max_connections = 1;
  seeds.connect_timeout = node.connect_timeout;
  seeds.socket_timeout = node.socket_timeout;
  seeds.health_check_interval = node.health_check_interval;
  seeds.wait_timeout = node.wait_timeout;
  seeds.retry_attempts = node.retry_attempts;
  seeds.client_name = node.client_name;
  seeds.max_reply_bytes = node.max_reply_bytes;
  seeds.tls = node.tls;
  seeds.read_from = RedisReadFrom::master;
  return seeds;
}

RedisSettings settings_of_url(std::string_view text) {
  RedisSettings settings;
  settings.url = parse_url(text);
  settings.mode = RedisMode::cluster;
  return settings;
}

[[noreturn]] void throw_cross_slot(std::span<const Arg> args, const std::string& seeds) {
  throw ServerError(
      Backend::redis,
      fmt::format("CROSSSLOT the keys of {} hash to several slots of the Redis Cluster at {}, "
                  "and the async cluster client sends each command to one node (ClusterClient "
                  "splits MGET, MSET, DEL, UNLINK, EXISTS and TOUCH); nothing was sent. Give the "
                  "keys one {{hash tag}} (e.g. {{user42}}.a, {{user42}}.b) so they share a slot",
                  args.front().view(), seeds));
}

}  // namespace

AsyncClusterClient::Impl::Impl(RedisSettings seeds_settings, AsyncOptions node,
                               AsyncClusterOptions cluster_options)
    : seeds(std::move(seeds_settings)),
      node_options(std::move(node)),
      options(std::move(cluster_options)),
      retry_budget(options.retry_budget.count() > 0 ? options.retry_budget
                                                    : node_options.socket_timeout),
      seeds_text(seeds.url ? seeds.url->redacted() : std::string()),
      topology(topology_settings(seeds, node_options),
               ClusterOptions{.min_refresh_interval = options.min_refresh_interval}),
      current(std::make_shared<const detail::SlotTable>()) {
  thread = std::thread([this] { run(); });
  thread_id = thread.get_id();
}

AsyncClusterClient::Impl::~Impl() {
  close();
}

// --- the slot map -----------------------------------------------------------------------------

std::shared_ptr<const detail::SlotTable> AsyncClusterClient::Impl::table() const {
  const std::lock_guard lock(map_mutex);
  return current;
}

std::shared_ptr<detail::AsyncNode> AsyncClusterClient::Impl::node_at(const std::string& address) {
  const std::lock_guard lock(map_mutex);
  auto& node = registry[address];
  if (!node) {
    node = std::make_shared<detail::AsyncNode>(
        address, detail::url_for_node(*seeds.url, address_of(address)).text, node_options);
  }
  return node;
}

void AsyncClusterClient::Impl::refresh(bool force) {
  const std::lock_guard refreshing(refresh_mutex);
  if (!force && Clock::now() - last_refresh < options.min_refresh_interval) return;
  try {
    topology.refresh_topology();
  } catch (const Error& error) {
    last_refresh = Clock::now();  // a cluster that does not answer is not asked again at once
    next_refresh.store((last_refresh + options.min_refresh_interval).time_since_epoch().count());
    last_refresh_error = error.what();
    throw;
  }
  auto fresh = std::make_shared<detail::SlotTable>();
  std::map<std::string, std::int16_t> index_of;
  std::string previous;
  std::int16_t previous_index = detail::SlotTable::kNone;
  for (std::uint16_t slot = 0; slot < detail::kClusterSlots; ++slot) {
    std::string address = topology.master_address(slot);
    if (address.empty()) continue;
    if (address != previous) {  // slots come in ranges: look up once per range
      auto [at, added] =
          index_of.try_emplace(address, static_cast<std::int16_t>(fresh->nodes.size()));
      if (added) fresh->nodes.push_back(node_at(address));
      previous = std::move(address);
      previous_index = at->second;
    }
    fresh->owner[slot] = previous_index;
  }
  {
    const std::lock_guard lock(map_mutex);
    current = std::move(fresh);
    // Nodes gone from the map leave the registry; the cluster thread closes their clients.
    for (auto it = registry.begin(); it != registry.end();) {
      if (index_of.contains(it->first)) {
        ++it;
      } else {
        retired.push_back(std::move(it->second));
        it = registry.erase(it);
      }
    }
  }
  last_refresh = Clock::now();
  next_refresh.store((last_refresh + options.min_refresh_interval).time_since_epoch().count());
  refreshes.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<const detail::SlotTable> AsyncClusterClient::Impl::ensure_table() {
  auto known = table();
  if (!known->nodes.empty()) return known;
  // Many first callers share one refresh; those it leaves without a map get the error it met.
  refresh(false);
  known = table();
  if (known->nodes.empty()) {
    const std::lock_guard refreshing(refresh_mutex);
    throw ConnectError(Backend::redis,
                       last_refresh_error.empty()
                           ? fmt::format("the Redis Cluster at {} serves no slot", seeds_text)
                           : last_refresh_error);
  }
  return known;
}

// The slot's new owner is taken at once (a copy of the table with that one slot changed); the
// whole map is read again by the cluster thread, since one MOVED usually means a reshard.
void AsyncClusterClient::Impl::note_moved(std::uint16_t slot, const NodeAddress& target) {
  moved.fetch_add(1, std::memory_order_relaxed);
  auto node = node_at(target.text());
  {
    const std::lock_guard lock(map_mutex);
    if (current->master_of(slot) != node) {
      auto changed = std::make_shared<detail::SlotTable>(*current);
      const auto known = std::find(changed->nodes.begin(), changed->nodes.end(), node);
      changed->owner[slot] = static_cast<std::int16_t>(known - changed->nodes.begin());
      if (known == changed->nodes.end()) changed->nodes.push_back(std::move(node));
      current = std::move(changed);
    }
  }
  refresh_wanted.store(true, std::memory_order_release);
}

// --- sending ----------------------------------------------------------------------------------

detail::CallHandle AsyncClusterClient::Impl::start(std::span<const Arg> args, Callback* callback) {
  if (args.empty()) {
    throw ConfigError("an async Redis command needs at least its name; none was given");
  }
  if (closed) throw PoolClosedError(Backend::redis, "the async Redis Cluster client is closed");
  const detail::CommandRouting routing = detail::route_of(args);
  bool spans = false;
  const auto slot = detail::common_slot(args, routing, spans);
  if (spans) throw_cross_slot(args, seeds_text);

  auto call = std::make_shared<detail::ClusterCall>();
  call->words.assign(args.size(), {});
  for (std::size_t i = 0; i < args.size(); ++i) call->words[i] = args[i].view();
  call->slot = slot;
  call->idempotent = is_idempotent(args);
  call->name = detail::MetricName(args);
  call->started = Clock::now();
  call->deadline = call->started + retry_budget;
  const Executor* executor = node_options.executor ? &node_options.executor : nullptr;
  detail::CallState* state =
      detail::CallState::make(callback != nullptr ? 1 : 2, thread_id, executor);
  call->user = detail::adopt(state);
  detail::CallHandle caller = callback != nullptr ? detail::CallHandle() : detail::adopt(state);
  if (callback != nullptr) {
    state->then([callback = std::move(*callback)](detail::CallState& done) {
      callback(AsyncResult(done));
    });
  }
  const auto known = ensure_table();
  auto node = slot ? known->master_of(*slot) : known->nodes.front();
  if (!node) {  // no master serves the slot now (a failover in progress): wait for one
    try_again.fetch_add(1, std::memory_order_relaxed);
    refresh_wanted.store(true, std::memory_order_release);
    schedule({Clock::now() + backoff.delay(++call->waits), call, std::nullopt, false});
  } else {
    dispatch(call, node, false);
  }
  return caller;
}

void AsyncClusterClient::Impl::dispatch(const CallPtr& call,
                                        const std::shared_ptr<detail::AsyncNode>& node,
                                        bool asking) {
  if (!call->path.ends_with(node->address())) {
    call->path += (call->path.empty() ? "" : " -> ") + node->address();
  }
  std::vector<Arg> args(call->words.begin(), call->words.end());
  Callback done = [this, call, address = node->address()](AsyncResult result) {
    on_result(call, address, result);
  };
  if (asking) {
    detail::send_after_asking(node->client(), args, std::move(done));
  } else {
    node->client().send(args, std::move(done));
  }
}

// --- completions ------------------------------------------------------------------------------

void AsyncClusterClient::Impl::on_result(const CallPtr& call, const std::string& node,
                                         AsyncResult result) {
  try {
    complete(*call, result.get());
  } catch (const ServerError& error) {
    on_server_error(call, node, error);
  } catch (const Error& error) {
    on_failure(call, error);
  } catch (...) {
    fail(*call, std::current_exception(), "other");
  }
}

void AsyncClusterClient::Impl::on_server_error(const CallPtr& call, const std::string& node,
                                               const ServerError& error) {
  const std::string_view text = error.what();
  if (const auto redirect = detail::parse_redirect(text, address_of(node).host)) {
    if (++call->redirects > options.max_redirects) {
      return fail(
          *call,
          std::make_exception_ptr(ServerError(
              Backend::redis,
              fmt::format("gave up on slot {} of the Redis Cluster after {} redirects (MOVED/ASK) "
                          "through {}: the slot keeps moving; retry later, or raise "
                          "AsyncClusterOptions::max_redirects",
                          redirect->slot, options.max_redirects, call->path))),
          to_string(ErrorCode::server));
    }
    const bool ask = redirect->kind == detail::Redirect::Kind::ask;
    if (ask) {
      asked.fetch_add(1, std::memory_order_relaxed);
    } else {
      note_moved(redirect->slot, redirect->target);
    }
    return schedule({Clock::now(), call, redirect->target, ask});
  }
  const bool not_master_any_more = text.starts_with("READONLY");  // a failed-over master
  if (detail::is_retry_later(text) || not_master_any_more) {
    try_again.fetch_add(1, std::memory_order_relaxed);
    if (not_master_any_more || text.starts_with("CLUSTERDOWN")) {
      refresh_wanted.store(true, std::memory_order_release);
    }
    if (retry_later(call)) return;
  }
  fail(*call, own_copy(error), to_string(ErrorCode::server));
}

void AsyncClusterClient::Impl::on_failure(const CallPtr& call, const Error& error) {
  if (!closed && is_node_failure(error)) {
    node_failures.fetch_add(1, std::memory_order_relaxed);
    refresh_wanted.store(true, std::memory_order_release);
    // The node's client already retried what it could on its own connections. A command that
    // never left (Sent::no), or one that may run twice, goes to whichever node owns the slot once
    // the map is read again; any other keeps the node's error (may_have_run()).
    if ((call->idempotent || !error.may_have_run()) && retry_later(call)) {
      retries.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  fail(*call, own_copy(error), to_string(error.code()));
}

bool AsyncClusterClient::Impl::retry_later(const CallPtr& call) {
  const auto due = Clock::now() + backoff.delay(++call->waits);
  if (due >= call->deadline) return false;
  schedule({due, call, std::nullopt, false});
  return true;
}

void AsyncClusterClient::Impl::complete(detail::ClusterCall& call, Reply reply) {
  operations.record(call.name.view(), "ok", Clock::now() - call.started);
  call.user->complete(std::move(reply));
  call.user.reset();
}

void AsyncClusterClient::Impl::fail(detail::ClusterCall& call, const std::exception_ptr& error,
                                    std::string_view outcome) {
  operations.record(call.name.view(), outcome, Clock::now() - call.started);
  call.user->fail(error);
  call.user.reset();
}

// --- the cluster thread -----------------------------------------------------------------------

namespace {
bool later(const detail::Resend& a, const detail::Resend& b) {
  return a.due > b.due;
}
}  // namespace

void AsyncClusterClient::Impl::schedule(detail::Resend resend) {
  {
    const std::lock_guard lock(queue_mutex);
    if (!stopping) {
      queue.push_back(std::move(resend));
      std::push_heap(queue.begin(), queue.end(), later);
      resend.call = nullptr;
    }
  }
  if (resend.call != nullptr) {
    return fail(*resend.call,
                std::make_exception_ptr(PoolClosedError(
                    Backend::redis, fmt::format("the async Redis Cluster client for {} was closed "
                                                "before the command could be resent",
                                                seeds_text))),
                to_string(ErrorCode::pool_closed));
  }
  queue_changed.notify_one();
}

void AsyncClusterClient::Impl::run() noexcept {
  std::vector<detail::Resend> due;
  std::unique_lock lock(queue_mutex);
  while (!stopping) {
    auto wake_at = queue.empty() ? Clock::now() + std::chrono::seconds(1) : queue.front().due;
    const Clock::time_point refresh_at{Clock::duration(next_refresh.load())};
    const bool wants_refresh = refresh_wanted.load(std::memory_order_acquire);
    if (wants_refresh) wake_at = std::min(wake_at, refresh_at);
    queue_changed.wait_until(lock, wake_at);
    if (stopping) break;
    const auto now = Clock::now();
    while (!queue.empty() && queue.front().due <= now) {
      std::pop_heap(queue.begin(), queue.end(), later);
      due.push_back(std::move(queue.back()));
      queue.pop_back();
    }
    lock.unlock();
    // Rate-limited: a refresh wanted too soon after the last one waits for its turn.
    if (now >= refresh_at && refresh_wanted.exchange(false, std::memory_order_acq_rel)) {
      try {
        refresh(false);
      } catch (const Error&) {
        // The calls' own retries ask again, rate-limited.
      }
    }
    for (detail::Resend& resend : due) this->resend(resend);
    due.clear();
    close_retired();
    lock.lock();
  }
}

void AsyncClusterClient::Impl::resend(detail::Resend& resend) {
  const CallPtr& call = resend.call;
  try {
    std::shared_ptr<detail::AsyncNode> node;
    if (resend.target) {
      node = node_at(resend.target->text());
    } else {
      const auto known = ensure_table();
      node = call->slot ? known->master_of(*call->slot) : known->nodes.front();
    }
    if (node) return dispatch(call, node, resend.asking);
    try_again.fetch_add(1, std::memory_order_relaxed);
    refresh_wanted.store(true, std::memory_order_release);
    if (retry_later(call)) return;
    fail(*call,
         std::make_exception_ptr(ServerError(
             Backend::redis,
             fmt::format("CLUSTERDOWN no node of the Redis Cluster at {} serves slot {} (the map "
                         "was read {} times)",
                         seeds_text, call->slot.value_or(0), refreshes.load()),
             true)),
         to_string(ErrorCode::server));
  } catch (const Error& error) {
    fail(*call, std::current_exception(), to_string(error.code()));
  }
}

// A node that left the map is closed once nothing holds it and nothing is pending on it.
void AsyncClusterClient::Impl::close_retired() {
  std::vector<std::shared_ptr<detail::AsyncNode>> done;
  {
    const std::lock_guard lock(map_mutex);
    std::erase_if(retired, [&](std::shared_ptr<detail::AsyncNode>& node) {
      const AsyncClient* client = node->opened();
      if (node.use_count() > 1 || (client != nullptr && client->stats().pending > 0)) return false;
      done.push_back(std::move(node));
      return true;
    });
  }
  done.clear();  // outside the lock: closing joins the node's I/O thread
}

void AsyncClusterClient::Impl::close() {
  if (closed.exchange(true)) return;
  {
    const std::lock_guard lock(queue_mutex);
    stopping = true;
  }
  queue_changed.notify_all();
  if (thread.joinable()) thread.join();
  const auto error = std::make_exception_ptr(PoolClosedError(
      Backend::redis,
      fmt::format("the async Redis Cluster client for {} was closed before the reply came",
                  seeds_text)));
  for (detail::Resend& resend : queue) fail(*resend.call, error, to_string(ErrorCode::pool_closed));
  queue.clear();
  std::vector<std::shared_ptr<detail::AsyncNode>> nodes;
  {
    const std::lock_guard lock(map_mutex);
    for (auto& [address, node] : registry) nodes.push_back(node);
    nodes.insert(nodes.end(), retired.begin(), retired.end());
  }
  // Their pending commands fail with PoolClosedError; completions see `closed` and fail the
  // calls instead of resending them.
  for (const auto& node : nodes) {
    if (AsyncClient* client = node->opened()) client->close();
  }
  topology.close();
}

// ---------------------------------------------------------------------------------------------

AsyncClusterClient::AsyncClusterClient(std::string_view url, AsyncClusterOptions options)
    : impl_(std::make_unique<Impl>(settings_of_url(url), options.node, options)) {}

AsyncClusterClient::AsyncClusterClient(const RedisSettings& settings, AsyncClusterOptions options)
    : impl_(std::make_unique<Impl>(settings, AsyncOptions::from(settings, options.node), options)) {
}

AsyncClusterClient::~AsyncClusterClient() = default;

std::future<Reply> AsyncClusterClient::send(std::span<const Arg> args) {
  return async_command(args).future();
}

void AsyncClusterClient::send(std::span<const Arg> args, Callback callback) {
  impl_->start(args, &callback);
}

Awaitable<Reply> AsyncClusterClient::async_command(std::span<const Arg> args) {
  return Awaitable<Reply>(impl_->start(args, nullptr), &detail::as_reply);
}

void AsyncClusterClient::refresh_topology() {
  impl_->refresh(true);
}

std::string AsyncClusterClient::master_address(std::uint16_t slot) const {
  const auto node = impl_->table()->master_of(slot);
  return node ? node->address() : std::string();
}

AsyncClusterStats AsyncClusterClient::stats() const {
  AsyncClusterStats stats;
  const auto known = impl_->table();
  for (std::size_t i = 0; i < known->nodes.size(); ++i) {
    const auto& node = known->nodes[i];
    AsyncClusterNodeStats entry;
    entry.address = node->address();
    entry.slots = static_cast<std::size_t>(
        std::count(known->owner.begin(), known->owner.end(), static_cast<std::int16_t>(i)));
    if (const AsyncClient* client = node->opened()) {
      entry.has_client = true;
      entry.client = client->stats();
    }
    stats.nodes.push_back(std::move(entry));
  }
  stats.commands = impl_->operations.snapshot();
  stats.topology_refreshes = impl_->refreshes.load();
  stats.moved = impl_->moved.load();
  stats.ask = impl_->asked.load();
  stats.try_again = impl_->try_again.load();
  stats.node_failures = impl_->node_failures.load();
  stats.retries = impl_->retries.load();
  return stats;
}

void AsyncClusterClient::close() {
  impl_->close();
}

}  // namespace poolkit::redis
