// The client: one leased connection per call, retries with backoff, metrics by command name.

#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "endpoint.hpp"
#include "poolkit/backoff.hpp"
#include "poolkit/error.hpp"
#include "poolkit/pool.hpp"
#include "poolkit/redis.hpp"

namespace poolkit::redis {
namespace {

using Clock = std::chrono::steady_clock;

// Metric names are command names in upper case; anything else (a typo, a binary blob) is
// counted as OTHER so a caller cannot grow the metrics without bound.
class MetricName {
 public:
  explicit MetricName(std::span<const Arg> command) {
    const std::string_view name = command.empty() ? std::string_view() : command.front().view();
    if (name.empty() || name.size() > sizeof text_) return;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
      if (!letter) return;
      text_[i] = c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
    }
    length_ = name.size();
  }
  std::string_view view() const noexcept {
    return length_ == 0 ? std::string_view("OTHER") : std::string_view(text_, length_);
  }

 private:
  char text_[24] = {};
  std::size_t length_ = 0;
};

std::vector<Arg> to_args(std::span<const std::string> words) {
  return std::vector<Arg>(words.begin(), words.end());
}

std::vector<Arg> command_with(std::initializer_list<Arg> head,
                              std::initializer_list<std::string_view> tail) {
  std::vector<Arg> args(head);
  args.insert(args.end(), tail.begin(), tail.end());
  return args;
}

std::vector<Arg> command_with_pairs(
    std::initializer_list<Arg> head,
    std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  std::vector<Arg> args(head);
  for (const auto& [first, second] : pairs) {
    args.emplace_back(first);
    args.emplace_back(second);
  }
  return args;
}

// A command whose reply is a count, e.g. DEL k1 k2 or SADD key m1 m2.
long long count_of(Client& client, std::initializer_list<Arg> head,
                   std::initializer_list<std::string_view> tail) {
  const auto args = command_with(head, tail);
  return client.command(std::span<const Arg>(args)).as_integer();
}

std::vector<std::string> strings_of(const Reply& reply) {
  std::vector<std::string> result;
  result.reserve(reply.as_array().size());
  for (const Reply& element : reply.as_array()) result.push_back(element.as_string());
  return result;
}

// The endpoint with the reply limit: REDIS_MAX_REPLY_BYTES (0, from settings built by hand,
// means the default).
std::shared_ptr<const detail::Endpoint> endpoint_for(const RedisSettings& settings) {
  detail::Endpoint endpoint = detail::make_endpoint(settings);
  if (settings.max_reply_bytes != 0) endpoint.max_reply_bytes = settings.max_reply_bytes;
  return std::make_shared<const detail::Endpoint>(std::move(endpoint));
}

// The last attempt's error, saying what the whole call cost when it took more than one attempt,
// so the time in the message is the time the caller waited.
[[noreturn]] void rethrow_with_attempts(const Error& error, int attempts, Clock::duration elapsed) {
  if (attempts <= 1) throw;
  const std::string message =
      fmt::format("{} ({} attempts, {} ms in all)", error.what(), attempts,
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count());
  switch (error.code()) {
    case ErrorCode::timeout:
      throw TimeoutError(error.backend(), message);
    case ErrorCode::connect:
      throw ConnectError(error.backend(), message);
    case ErrorCode::pool_timeout:
      throw PoolTimeoutError(error.backend(), message);
    case ErrorCode::pool_cleared:
      throw PoolClearedError(error.backend(), message);
    default:
      throw;
  }
}

PoolOptions pool_options(const RedisSettings& settings, const ClientOptions& options,
                         const detail::Endpoint& endpoint) {
  PoolOptions pool;
  pool.name = "redis";
  pool.address = endpoint.address;
  pool.backend = Backend::redis;
  pool.size_setting = "REDIS_MAX_CONNECTIONS";
  pool.min_size_setting = "redis::ClientOptions::min_connections";
  pool.max_size = settings.max_connections;
  pool.min_size = options.min_connections;
  pool.wait_queue_timeout = settings.wait_timeout;
  pool.connect_timeout = settings.connect_timeout;
  pool.health_check_interval = settings.health_check_interval;
  pool.max_idle_time = options.max_idle_time;
  pool.strict_fifo = options.strict_fifo;
  pool.background_interval = options.background_interval;
  pool.leak_threshold = options.leak_threshold;
  return pool;
}

}  // namespace

struct Client::Impl {
  Impl(const RedisSettings& settings, const ClientOptions& options)
      : endpoint(endpoint_for(settings)),
        pool(detail::Connector{endpoint}, pool_options(settings, options, *endpoint),
             options.listener),
        retry_attempts(std::max(settings.retry_attempts, 0)) {}

  bool should_retry(const Error& error, bool wrote, bool slow_reply, int attempt, Repeat repeat,
                    std::span<const Arg> command) const {
    if (attempt >= retry_attempts || !error.retryable()) return false;
    if (error.code() == ErrorCode::pool_timeout) return false;  // it already waited its full time
    if (slow_reply) return false;  // the server answers, too slowly: it would do so again
    if (!wrote) return true;
    return repeat == Repeat::always || (repeat == Repeat::by_command && is_idempotent(command));
  }

  void note_failure(bool lost, bool stale) {
    if (stale) closed_while_idle.fetch_add(1, std::memory_order_relaxed);
    if (lost) clear_pool();
  }

  // One network error means the siblings opened before it are probably dead too (a restart, a
  // failover): drop them all at once instead of letting each caller find its own.
  void clear_pool() {
    pool.clear();
    pool_clears.fetch_add(1, std::memory_order_relaxed);
  }

  std::shared_ptr<const detail::Endpoint> endpoint;
  Pool<detail::Connector> pool;
  OperationStats operations;
  Backoff backoff{.base = std::chrono::milliseconds(8),
                  .cap = std::chrono::milliseconds(512),
                  .jitter = std::chrono::milliseconds(0),
                  .jitter_ratio = 0.5};
  int retry_attempts;
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> pool_clears{0};
  std::atomic<std::uint64_t> closed_while_idle{0};
};

Client::Client(const RedisSettings& settings, ClientOptions options)
    : impl_(std::make_unique<Impl>(settings, options)) {}

Client::~Client() = default;

void Client::run(std::string_view name, Repeat repeat, std::span<const Arg> command,
                 const std::function<void(Connection&)>& fn) {
  const auto started = Clock::now();
  for (int attempt = 0;; ++attempt) {
    bool wrote = false;
    bool stale = false;
    bool slow_reply = false;
    try {
      auto lease = impl_->pool.checkout();
      Connection& connection = *lease;
      connection.begin_operation();
      try {
        fn(connection);
      } catch (...) {
        wrote = connection.wrote_anything();
        stale = connection.closed_while_idle();
        slow_reply = connection.timed_out_mid_reply();
        const bool lost = connection.lost_connection();
        if (connection.broken() || !connection.in_step()) lease.mark_broken();
        lease.release();
        impl_->note_failure(lost, stale);
        throw;
      }
      if (!connection.in_step()) lease.mark_broken();  // with_connection left replies unread
      impl_->operations.record(name, "ok", Clock::now() - started);
      return;
    } catch (const Error& error) {
      if (error.code() == ErrorCode::connect && !wrote && !stale) impl_->clear_pool();
      if (!impl_->should_retry(error, wrote, slow_reply, attempt, repeat, command)) {
        impl_->operations.record(name, to_string(error.code()), Clock::now() - started);
        rethrow_with_attempts(error, attempt + 1, Clock::now() - started);
      }
    } catch (...) {
      impl_->operations.record(name, "other", Clock::now() - started);
      throw;
    }
    impl_->retries.fetch_add(1, std::memory_order_relaxed);
    // A connection the server closed while idle says nothing about the server's health: the
    // next connection is tried at once.
    if (!stale) std::this_thread::sleep_for(impl_->backoff.delay(attempt + 1));
  }
}

Reply Client::command(std::span<const Arg> args) {
  Reply reply;
  run(MetricName(args).view(), Repeat::by_command, args,
      [&](Connection& connection) { reply = connection.command(args); });
  return reply;
}

Reply Client::command(std::span<const std::string> args) {
  const std::vector<Arg> argv = to_args(args);
  return command(std::span<const Arg>(argv));
}

std::optional<std::string> Client::get(std::string_view key) {
  return command("GET", key).as_optional_string();
}

bool Client::set(std::string_view key, std::string_view value, SetOptions options) {
  std::vector<Arg> args{"SET", key, value};
  if (options.ttl.count() > 0) {
    const bool whole_seconds = options.ttl.count() % 1000 == 0;
    args.emplace_back(whole_seconds ? "EX" : "PX");
    args.emplace_back(whole_seconds ? options.ttl.count() / 1000 : options.ttl.count());
  }
  if (options.condition == SetCondition::if_not_exists) args.emplace_back("NX");
  if (options.condition == SetCondition::if_exists) args.emplace_back("XX");
  return !command(std::span<const Arg>(args)).is_nil();
}

long long Client::del(std::initializer_list<std::string_view> keys) {
  return count_of(*this, {"DEL"}, keys);
}

long long Client::exists(std::initializer_list<std::string_view> keys) {
  return count_of(*this, {"EXISTS"}, keys);
}

long long Client::incr(std::string_view key, long long by) {
  return (by == 1 ? command("INCR", key) : command("INCRBY", key, by)).as_integer();
}

long long Client::decr(std::string_view key, long long by) {
  return (by == 1 ? command("DECR", key) : command("DECRBY", key, by)).as_integer();
}

bool Client::expire(std::string_view key, std::chrono::seconds ttl) {
  return command("EXPIRE", key, ttl.count()).as_integer() == 1;
}

long long Client::ttl(std::string_view key) {
  return command("TTL", key).as_integer();
}

std::vector<std::optional<std::string>> Client::mget(std::initializer_list<std::string_view> keys) {
  const auto args = command_with({"MGET"}, keys);
  const Reply reply = command(std::span<const Arg>(args));
  std::vector<std::optional<std::string>> values;
  values.reserve(reply.as_array().size());
  for (const Reply& element : reply.as_array()) values.push_back(element.as_optional_string());
  return values;
}

void Client::mset(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  const auto args = command_with_pairs({"MSET"}, pairs);
  command(std::span<const Arg>(args));
}

bool Client::hset(std::string_view key, std::string_view field, std::string_view value) {
  return command("HSET", key, field, value).as_integer() == 1;
}

long long Client::hset(
    std::string_view key,
    std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  const auto args = command_with_pairs({"HSET", key}, fields);
  return command(std::span<const Arg>(args)).as_integer();
}

std::optional<std::string> Client::hget(std::string_view key, std::string_view field) {
  return command("HGET", key, field).as_optional_string();
}

std::map<std::string, std::string> Client::hgetall(std::string_view key) {
  const std::vector<std::string> flat = strings_of(command("HGETALL", key));
  std::map<std::string, std::string> fields;
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) fields[flat[i]] = flat[i + 1];
  return fields;
}

long long Client::hdel(std::string_view key, std::initializer_list<std::string_view> fields) {
  return count_of(*this, {"HDEL", key}, fields);
}

long long Client::hincrby(std::string_view key, std::string_view field, long long by) {
  return command("HINCRBY", key, field, by).as_integer();
}

bool Client::hexists(std::string_view key, std::string_view field) {
  return command("HEXISTS", key, field).as_integer() == 1;
}

long long Client::lpush(std::string_view key, std::initializer_list<std::string_view> values) {
  return count_of(*this, {"LPUSH", key}, values);
}

long long Client::rpush(std::string_view key, std::initializer_list<std::string_view> values) {
  return count_of(*this, {"RPUSH", key}, values);
}

std::optional<std::string> Client::lpop(std::string_view key) {
  return command("LPOP", key).as_optional_string();
}

std::optional<std::string> Client::rpop(std::string_view key) {
  return command("RPOP", key).as_optional_string();
}

std::vector<std::string> Client::lrange(std::string_view key, long long start, long long stop) {
  return strings_of(command("LRANGE", key, start, stop));
}

long long Client::llen(std::string_view key) {
  return command("LLEN", key).as_integer();
}

long long Client::sadd(std::string_view key, std::initializer_list<std::string_view> members) {
  return count_of(*this, {"SADD", key}, members);
}

long long Client::srem(std::string_view key, std::initializer_list<std::string_view> members) {
  return count_of(*this, {"SREM", key}, members);
}

std::vector<std::string> Client::smembers(std::string_view key) {
  std::vector<std::string> members = strings_of(command("SMEMBERS", key));
  std::sort(members.begin(), members.end());
  return members;
}

bool Client::sismember(std::string_view key, std::string_view member) {
  return command("SISMEMBER", key, member).as_integer() == 1;
}

long long Client::scard(std::string_view key) {
  return command("SCARD", key).as_integer();
}

std::chrono::microseconds Client::ping() {
  std::chrono::microseconds latency{0};
  run("PING", Repeat::always, {}, [&](Connection& connection) {
    const auto sent = Clock::now();
    connection.command("PING");
    latency = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
  });
  return latency;
}

Info Client::info(std::string_view section) {
  const Reply reply = section.empty() ? command("INFO") : command("INFO", section);
  return parse_info(reply.as_string());
}

std::optional<std::vector<Reply>> Client::transaction(const std::function<void(Transaction&)>& body,
                                                      std::span<const std::string> watch) {
  std::optional<std::vector<Reply>> result;
  run("TRANSACTION", Repeat::never, {}, [&](Connection& connection) {
    if (!watch.empty()) {
      std::vector<Arg> args{"WATCH"};
      args.insert(args.end(), watch.begin(), watch.end());
      connection.command(std::span<const Arg>(args));
    }
    Transaction transaction(connection);
    try {
      body(transaction);
    } catch (...) {
      if (!watch.empty() && !connection.broken()) connection.command("UNWATCH");
      throw;
    }
    connection.append(std::vector<Arg>{"MULTI"});
    for (const auto& queued : transaction.queued_) connection.append(to_args(queued));
    connection.append(std::vector<Arg>{"EXEC"});
    connection.flush();
    // MULTI's OK and one QUEUED per command; a command Redis refused to queue shows up again as
    // EXEC's EXECABORT error, which names it.
    for (std::size_t i = 0; i <= transaction.queued_.size(); ++i) connection.read_reply();
    Reply exec = connection.read_reply();
    if (exec.is_error()) {
      throw ServerError(Backend::redis,
                        fmt::format("{} (Redis at {}, MULTI/EXEC)", exec.error_text(), address()));
    }
    if (!exec.is_nil()) result = exec.as_array();
  });
  return result;
}

Transaction& Transaction::queue(std::span<const Arg> args) {
  auto& words = queued_.emplace_back();
  for (const Arg& arg : args) words.emplace_back(arg.view());
  return *this;
}

Pipeline& Pipeline::add(std::span<const Arg> args) {
  auto& words = commands_.emplace_back();
  for (const Arg& arg : args) words.emplace_back(arg.view());
  return *this;
}

std::vector<Reply> Pipeline::execute() {
  auto commands = std::exchange(commands_, {});
  bool every_command_idempotent = true;
  for (const auto& words : commands) {
    every_command_idempotent = every_command_idempotent && is_idempotent(to_args(words));
  }
  std::vector<Reply> replies;
  client_->run("PIPELINE",
               every_command_idempotent ? Client::Repeat::always : Client::Repeat::never, {},
               [&](Connection& connection) {
                 replies.clear();
                 for (const auto& words : commands) connection.append(to_args(words));
                 connection.flush();
                 for (std::size_t i = 0; i < commands.size(); ++i) {
                   replies.push_back(connection.read_reply());
                 }
               });
  return replies;
}

Connection Client::open_unpooled() {
  return detail::open_connection(impl_->endpoint, Clock::now() + impl_->endpoint->connect_timeout);
}

ClientStats Client::stats() const {
  ClientStats stats;
  stats.pool = impl_->pool.stats();
  stats.commands = impl_->operations.snapshot();
  stats.retries = impl_->retries.load(std::memory_order_relaxed);
  stats.pool_clears = impl_->pool_clears.load(std::memory_order_relaxed);
  stats.closed_while_idle = impl_->closed_while_idle.load(std::memory_order_relaxed);
  return stats;
}

void Client::clear() {
  impl_->pool.clear();
}

void Client::close() {
  impl_->pool.close();
}

const std::string& Client::address() const noexcept {
  return impl_->endpoint->address;
}

}  // namespace poolkit::redis
