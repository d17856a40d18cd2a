// AsyncClusterClient's typed awaitables: AsyncClient's shapes, each routed by its key.

#include "../async/reply_converters.hpp"
#include "async_cluster_impl.hpp"

namespace poolkit::redis {
using detail::as_flag;
using detail::as_integer;
using detail::as_optional_string;
using detail::as_optional_strings;
using detail::as_set_done;

template <class T>
Awaitable<T> AsyncClusterClient::typed(std::span<const Arg> args, T (*convert)(Reply&&)) {
  return Awaitable<T>(impl_->start(args, nullptr), convert);
}

Awaitable<std::optional<std::string>> AsyncClusterClient::async_get(std::string_view key) {
  const Arg args[] = {"GET", key};
  return typed(args, &as_optional_string);
}

Awaitable<bool> AsyncClusterClient::async_set(std::string_view key, std::string_view value,
                                              SetOptions options) {
  return typed(set_command(key, value, options), &as_set_done);
}

Awaitable<long long> AsyncClusterClient::async_del(std::initializer_list<std::string_view> keys) {
  return typed(detail::CommandWords({"DEL"}, keys).args(), &as_integer);
}

Awaitable<long long> AsyncClusterClient::async_exists(
    std::initializer_list<std::string_view> keys) {
  return typed(detail::CommandWords({"EXISTS"}, keys).args(), &as_integer);
}

Awaitable<long long> AsyncClusterClient::async_incr(std::string_view key, long long by) {
  if (by == 1) {
    const Arg args[] = {"INCR", key};
    return typed(args, &as_integer);
  }
  const Arg args[] = {"INCRBY", key, by};
  return typed(args, &as_integer);
}

Awaitable<long long> AsyncClusterClient::async_decr(std::string_view key, long long by) {
  if (by == 1) {
    const Arg args[] = {"DECR", key};
    return typed(args, &as_integer);
  }
  const Arg args[] = {"DECRBY", key, by};
  return typed(args, &as_integer);
}

Awaitable<bool> AsyncClusterClient::async_expire(std::string_view key, std::chrono::seconds ttl) {
  const Arg args[] = {"EXPIRE", key, static_cast<long long>(ttl.count())};
  return typed(args, &as_flag);
}

Awaitable<std::vector<std::optional<std::string>>> AsyncClusterClient::async_mget(
    std::initializer_list<std::string_view> keys) {
  return typed(detail::CommandWords({"MGET"}, keys).args(), &as_optional_strings);
}

Awaitable<std::optional<std::string>> AsyncClusterClient::async_hget(std::string_view key,
                                                                     std::string_view field) {
  const Arg args[] = {"HGET", key, field};
  return typed(args, &as_optional_string);
}

Awaitable<bool> AsyncClusterClient::async_hset(std::string_view key, std::string_view field,
                                               std::string_view value) {
  const Arg args[] = {"HSET", key, field, value};
  return typed(args, &as_flag);
}

Awaitable<long long> AsyncClusterClient::async_hincrby(std::string_view key, std::string_view field,
                                                       long long by) {
  const Arg args[] = {"HINCRBY", key, field, by};
  return typed(args, &as_integer);
}

Awaitable<long long> AsyncClusterClient::async_lpush(std::string_view key, std::string_view value) {
  const Arg args[] = {"LPUSH", key, value};
  return typed(args, &as_integer);
}

Awaitable<long long> AsyncClusterClient::async_rpush(std::string_view key, std::string_view value) {
  const Arg args[] = {"RPUSH", key, value};
  return typed(args, &as_integer);
}

Awaitable<std::optional<std::string>> AsyncClusterClient::async_lpop(std::string_view key) {
  const Arg args[] = {"LPOP", key};
  return typed(args, &as_optional_string);
}

Awaitable<std::optional<std::string>> AsyncClusterClient::async_rpop(std::string_view key) {
  const Arg args[] = {"RPOP", key};
  return typed(args, &as_optional_string);
}

Awaitable<long long> AsyncClusterClient::async_sadd(std::string_view key, std::string_view member) {
  const Arg args[] = {"SADD", key, member};
  return typed(args, &as_integer);
}

Awaitable<bool> AsyncClusterClient::async_sismember(std::string_view key, std::string_view member) {
  const Arg args[] = {"SISMEMBER", key, member};
  return typed(args, &as_flag);
}

}  // namespace poolkit::redis
