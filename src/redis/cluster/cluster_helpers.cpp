// ClusterClient's typed helpers: the shapes of redis::Client's, each one routed command.

#include "poolkit/redis_cluster.hpp"

namespace poolkit::redis {

std::optional<std::string> ClusterClient::get(std::string_view key) {
  return command("GET", key).as_optional_string();
}

bool ClusterClient::set(std::string_view key, std::string_view value, SetOptions options) {
  const std::vector<Arg> args = set_command(key, value, options);
  return !command(std::span<const Arg>(args)).is_nil();
}

long long ClusterClient::incr(std::string_view key, long long by) {
  return (by == 1 ? command("INCR", key) : command("INCRBY", key, by)).as_integer();
}

long long ClusterClient::decr(std::string_view key, long long by) {
  return (by == 1 ? command("DECR", key) : command("DECRBY", key, by)).as_integer();
}

bool ClusterClient::expire(std::string_view key, std::chrono::seconds ttl) {
  return command("EXPIRE", key, ttl.count()).as_integer() == 1;
}

long long ClusterClient::ttl(std::string_view key) {
  return command("TTL", key).as_integer();
}

bool ClusterClient::hset(std::string_view key, std::string_view field, std::string_view value) {
  return command("HSET", key, field, value).as_integer() == 1;
}

std::optional<std::string> ClusterClient::hget(std::string_view key, std::string_view field) {
  return command("HGET", key, field).as_optional_string();
}

long long ClusterClient::hincrby(std::string_view key, std::string_view field, long long by) {
  return command("HINCRBY", key, field, by).as_integer();
}

}  // namespace poolkit::redis
