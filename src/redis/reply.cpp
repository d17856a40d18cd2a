#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "../core/ascii.hpp"
#include "connection_state.hpp"
#include "poolkit/error.hpp"
#include "poolkit/redis.hpp"

namespace poolkit::redis {

using poolkit::detail::equals_ignoring_case;

bool detail::has_option(std::span<const Arg> args, std::string_view option) noexcept {
  return std::any_of(args.begin() + 1, args.end(),
                     [&](const Arg& arg) { return equals_ignoring_case(arg.view(), option); });
}

namespace {

using detail::has_option;

// Commands that may be repeated after a failure that happened once they were written: reads, and
// writes whose effect is the same when applied twice (SET, DEL, EXPIRE, HSET, SADD...). Not here,
// so never repeated: INCR, DECR, APPEND, LPUSH, RPUSH, LPOP, RPOP, SPOP, HINCRBY, ...
constexpr std::array<std::string_view, 76> kIdempotent = {"BITCOUNT",
                                                          "DBSIZE",
                                                          "DEL",
                                                          "ECHO",
                                                          "EXISTS",
                                                          "EXPIRE",
                                                          "EXPIREAT",
                                                          "EXPIRETIME",
                                                          "GET",
                                                          "GETBIT",
                                                          "GETRANGE",
                                                          "HDEL",
                                                          "HEXISTS",
                                                          "HGET",
                                                          "HGETALL",
                                                          "HKEYS",
                                                          "HLEN",
                                                          "HMGET",
                                                          "HMSET",
                                                          "HSCAN",
                                                          "HSET",
                                                          "HSTRLEN",
                                                          "HVALS",
                                                          "INFO",
                                                          "KEYS",
                                                          "LINDEX",
                                                          "LLEN",
                                                          "LPOS",
                                                          "LRANGE",
                                                          "MGET",
                                                          "MSET",
                                                          "PERSIST",
                                                          "PEXPIRE",
                                                          "PEXPIREAT",
                                                          "PEXPIRETIME",
                                                          "PFCOUNT",
                                                          "PING",
                                                          "PSETEX",
                                                          "PTTL",
                                                          "SADD",
                                                          "SCAN",
                                                          "SCARD",
                                                          "SDIFF",
                                                          "SET",
                                                          "SETBIT",
                                                          "SETEX",
                                                          "SINTER",
                                                          "SISMEMBER",
                                                          "SMEMBERS",
                                                          "SMISMEMBER",
                                                          "SREM",
                                                          "SSCAN",
                                                          "STRLEN",
                                                          "SUNION",
                                                          "TTL",
                                                          "TYPE",
                                                          "UNLINK",
                                                          "XLEN",
                                                          "XRANGE",
                                                          "XREVRANGE",
                                                          "ZADD",
                                                          "ZCARD",
                                                          "ZCOUNT",
                                                          "ZMSCORE",
                                                          "ZRANGE",
                                                          "ZRANGEBYLEX",
                                                          "ZRANGEBYSCORE",
                                                          "ZRANK",
                                                          "ZREM",
                                                          "ZREVRANGE",
                                                          "ZREVRANGEBYSCORE",
                                                          "ZREVRANK",
                                                          "ZSCAN",
                                                          "ZSCORE",
                                                          "ZUNION",
                                                          "ZINTER"};

bool in_idempotent_table(std::string_view name) noexcept {
  return std::any_of(kIdempotent.begin(), kIdempotent.end(),
                     [&](std::string_view entry) { return equals_ignoring_case(entry, name); });
}

[[noreturn]] void wrong_type(Reply::Type found, std::string_view wanted) {
  throw ProtocolError(Backend::redis, fmt::format("expected {} reply from Redis, got {}", wanted,
                                                  to_string(found)));
}

}  // namespace

Reply Reply::integer(long long value) {
  Reply reply;
  reply.type_ = Type::integer;
  reply.integer_ = value;
  return reply;
}

Reply Reply::string(std::string value) {
  Reply reply;
  reply.type_ = Type::string;
  reply.text_ = std::move(value);
  return reply;
}

Reply Reply::status(std::string value) {
  Reply reply = string(std::move(value));
  reply.type_ = Type::status;
  return reply;
}

Reply Reply::error(std::string value) {
  Reply reply = string(std::move(value));
  reply.type_ = Type::error;
  return reply;
}

Reply Reply::array(std::vector<Reply> elements) {
  Reply reply;
  reply.type_ = Type::array;
  reply.elements_ = std::move(elements);
  return reply;
}

long long Reply::as_integer() const {
  if (type_ != Type::integer) wrong_type(type_, "an integer");
  return integer_;
}

const std::string& Reply::as_string() const {
  if (type_ != Type::string && type_ != Type::status) wrong_type(type_, "a string");
  return text_;
}

std::optional<std::string> Reply::as_optional_string() const {
  if (type_ == Type::nil) return std::nullopt;
  return as_string();
}

const std::string& Reply::error_text() const {
  if (type_ != Type::error) wrong_type(type_, "an error");
  return text_;
}

const std::vector<Reply>& Reply::as_array() const {
  if (type_ != Type::array) wrong_type(type_, "an array");
  return elements_;
}

std::string_view to_string(Reply::Type type) noexcept {
  switch (type) {
    case Reply::Type::nil:
      return "nil";
    case Reply::Type::integer:
      return "integer";
    case Reply::Type::string:
      return "string";
    case Reply::Type::status:
      return "status";
    case Reply::Type::error:
      return "error";
    case Reply::Type::array:
      return "array";
  }
  return "unknown";
}

bool is_idempotent(std::span<const Arg> command) noexcept {
  if (command.empty() || !in_idempotent_table(command.front().view())) return false;
  const std::string_view name = command.front().view();
  if (equals_ignoring_case(name, "SET"))
    return !has_option(command, "NX") && !has_option(command, "GET");
  if (equals_ignoring_case(name, "ZADD")) return !has_option(command, "INCR");
  return true;
}

Info parse_info(std::string_view text) {
  Info info;
  std::map<std::string, std::string, std::less<>>* section = nullptr;
  while (!text.empty()) {
    const std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.front() == '#') {
      // A bare "#" (from a hostile or broken server) is an unnamed section, not an exception.
      const std::size_t name_start = std::min(line.find_first_not_of("# "), line.size());
      std::string name(line.substr(name_start));
      std::transform(name.begin(), name.end(), name.begin(),
                     [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; });
      section = &info.sections[name];
      continue;
    }
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    if (section == nullptr) section = &info.sections[""];
    (*section)[std::string(line.substr(0, colon))] = std::string(line.substr(colon + 1));
  }
  return info;
}

std::optional<std::string_view> Info::get(std::string_view section, std::string_view key) const {
  const auto s = sections.find(section);
  if (s == sections.end()) return std::nullopt;
  const auto k = s->second.find(key);
  if (k == s->second.end()) return std::nullopt;
  return k->second;
}

std::optional<std::string_view> Info::find(std::string_view key) const {
  for (const auto& [name, entries] : sections) {
    if (auto it = entries.find(key); it != entries.end()) return it->second;
  }
  return std::nullopt;
}

}  // namespace poolkit::redis
