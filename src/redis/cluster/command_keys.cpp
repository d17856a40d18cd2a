#include "command_keys.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "../../core/ascii.hpp"
#include "key_slot.hpp"

namespace poolkit::redis::detail {
namespace {

// Where the keys are, by command shape.
enum class Keys {
  none,          // PING, INFO, ...
  first,         // GET k, SET k v, HSET k f v, ...
  first_two,     // RENAME a b, SMOVE a b m, LMOVE a b ..., RPOPLPUSH a b, COPY a b
  all,           // MGET k..., DEL k..., SINTERSTORE dest k...
  all_but_last,  // BLPOP k... timeout
  every_other,   // MSET k v k v ...
  numkeys_at_2,  // EVAL script numkeys k... arg..., FCALL name numkeys k...
  dest_numkeys,  // ZUNIONSTORE dest numkeys k..., ZINTERSTORE, ZDIFFSTORE
  bitop,         // BITOP op dest k...
};

struct Entry {
  std::string_view name;  // upper case
  Keys keys;
  bool read_only;
  SplitKind split = SplitKind::none;
};

// The commands a cache or session store uses; anything else routes by its first argument.
constexpr std::array kCommands{
    Entry{"APPEND", Keys::first, false},
    Entry{"BITCOUNT", Keys::first, true},
    Entry{"BITOP", Keys::bitop, false},
    Entry{"BLMOVE", Keys::first_two, false},
    Entry{"BLPOP", Keys::all_but_last, false},
    Entry{"BRPOP", Keys::all_but_last, false},
    Entry{"BRPOPLPUSH", Keys::first_two, false},
    Entry{"BZPOPMAX", Keys::all_but_last, false},
    Entry{"BZPOPMIN", Keys::all_but_last, false},
    Entry{"COPY", Keys::first_two, false},
    Entry{"DECR", Keys::first, false},
    Entry{"DECRBY", Keys::first, false},
    Entry{"DEL", Keys::all, false, SplitKind::sum_integers},
    Entry{"DUMP", Keys::first, true},
    Entry{"EVAL", Keys::numkeys_at_2, false},
    Entry{"EVALSHA", Keys::numkeys_at_2, false},
    Entry{"EVALSHA_RO", Keys::numkeys_at_2, true},
    Entry{"EVAL_RO", Keys::numkeys_at_2, true},
    Entry{"EXISTS", Keys::all, true, SplitKind::sum_integers},
    Entry{"EXPIRE", Keys::first, false},
    Entry{"EXPIREAT", Keys::first, false},
    Entry{"FCALL", Keys::numkeys_at_2, false},
    Entry{"FCALL_RO", Keys::numkeys_at_2, true},
    Entry{"GET", Keys::first, true},
    Entry{"GETBIT", Keys::first, true},
    Entry{"GETDEL", Keys::first, false},
    Entry{"GETEX", Keys::first, false},
    Entry{"GETRANGE", Keys::first, true},
    Entry{"GETSET", Keys::first, false},
    Entry{"HDEL", Keys::first, false},
    Entry{"HEXISTS", Keys::first, true},
    Entry{"HGET", Keys::first, true},
    Entry{"HGETALL", Keys::first, true},
    Entry{"HINCRBY", Keys::first, false},
    Entry{"HINCRBYFLOAT", Keys::first, false},
    Entry{"HKEYS", Keys::first, true},
    Entry{"HLEN", Keys::first, true},
    Entry{"HMGET", Keys::first, true},
    Entry{"HMSET", Keys::first, false},
    Entry{"HSCAN", Keys::first, true},
    Entry{"HSET", Keys::first, false},
    Entry{"HSETNX", Keys::first, false},
    Entry{"HSTRLEN", Keys::first, true},
    Entry{"HVALS", Keys::first, true},
    Entry{"INCR", Keys::first, false},
    Entry{"INCRBY", Keys::first, false},
    Entry{"INCRBYFLOAT", Keys::first, false},
    Entry{"LINDEX", Keys::first, true},
    Entry{"LINSERT", Keys::first, false},
    Entry{"LLEN", Keys::first, true},
    Entry{"LMOVE", Keys::first_two, false},
    Entry{"LPOP", Keys::first, false},
    Entry{"LPOS", Keys::first, true},
    Entry{"LPUSH", Keys::first, false},
    Entry{"LPUSHX", Keys::first, false},
    Entry{"LRANGE", Keys::first, true},
    Entry{"LREM", Keys::first, false},
    Entry{"LSET", Keys::first, false},
    Entry{"LTRIM", Keys::first, false},
    Entry{"MGET", Keys::all, true, SplitKind::concat_values},
    Entry{"MSET", Keys::every_other, false, SplitKind::all_ok},
    Entry{"MSETNX", Keys::every_other, false},
    Entry{"PERSIST", Keys::first, false},
    Entry{"PEXPIRE", Keys::first, false},
    Entry{"PEXPIREAT", Keys::first, false},
    Entry{"PFADD", Keys::first, false},
    Entry{"PFCOUNT", Keys::all, true},
    Entry{"PFMERGE", Keys::all, false},
    Entry{"PSETEX", Keys::first, false},
    Entry{"PTTL", Keys::first, true},
    Entry{"RENAME", Keys::first_two, false},
    Entry{"RENAMENX", Keys::first_two, false},
    Entry{"RPOP", Keys::first, false},
    Entry{"RPOPLPUSH", Keys::first_two, false},
    Entry{"RPUSH", Keys::first, false},
    Entry{"RPUSHX", Keys::first, false},
    Entry{"SADD", Keys::first, false},
    Entry{"SCARD", Keys::first, true},
    Entry{"SDIFF", Keys::all, true},
    Entry{"SDIFFSTORE", Keys::all, false},
    Entry{"SET", Keys::first, false},
    Entry{"SETBIT", Keys::first, false},
    Entry{"SETEX", Keys::first, false},
    Entry{"SETNX", Keys::first, false},
    Entry{"SETRANGE", Keys::first, false},
    Entry{"SINTER", Keys::all, true},
    Entry{"SINTERSTORE", Keys::all, false},
    Entry{"SISMEMBER", Keys::first, true},
    Entry{"SMEMBERS", Keys::first, true},
    Entry{"SMISMEMBER", Keys::first, true},
    Entry{"SMOVE", Keys::first_two, false},
    Entry{"SPOP", Keys::first, false},
    Entry{"SRANDMEMBER", Keys::first, true},
    Entry{"SREM", Keys::first, false},
    Entry{"SSCAN", Keys::first, true},
    Entry{"STRLEN", Keys::first, true},
    Entry{"SUNION", Keys::all, true},
    Entry{"SUNIONSTORE", Keys::all, false},
    Entry{"TOUCH", Keys::all, true, SplitKind::sum_integers},
    Entry{"TTL", Keys::first, true},
    Entry{"TYPE", Keys::first, true},
    Entry{"UNLINK", Keys::all, false, SplitKind::sum_integers},
    Entry{"XADD", Keys::first, false},
    Entry{"XLEN", Keys::first, true},
    Entry{"XRANGE", Keys::first, true},
    Entry{"XREVRANGE", Keys::first, true},
    Entry{"XTRIM", Keys::first, false},
    Entry{"ZADD", Keys::first, false},
    Entry{"ZCARD", Keys::first, true},
    Entry{"ZCOUNT", Keys::first, true},
    Entry{"ZDIFFSTORE", Keys::dest_numkeys, false},
    Entry{"ZINCRBY", Keys::first, false},
    Entry{"ZINTERSTORE", Keys::dest_numkeys, false},
    Entry{"ZMSCORE", Keys::first, true},
    Entry{"ZPOPMAX", Keys::first, false},
    Entry{"ZPOPMIN", Keys::first, false},
    Entry{"ZRANGE", Keys::first, true},
    Entry{"ZRANGEBYSCORE", Keys::first, true},
    Entry{"ZRANK", Keys::first, true},
    Entry{"ZREM", Keys::first, false},
    Entry{"ZREVRANGE", Keys::first, true},
    Entry{"ZREVRANK", Keys::first, true},
    Entry{"ZSCAN", Keys::first, true},
    Entry{"ZSCORE", Keys::first, true},
    Entry{"ZUNIONSTORE", Keys::dest_numkeys, false},
};

constexpr bool sorted_by_name() {
  for (std::size_t i = 1; i < kCommands.size(); ++i)
    if (!(kCommands[i - 1].name < kCommands[i].name)) return false;
  return true;
}
static_assert(sorted_by_name(), "kCommands is searched by binary search: keep it sorted");

const Entry* find_entry(std::string_view name) {
  const std::string upper = poolkit::detail::ascii_upper(name);
  const auto it = std::lower_bound(kCommands.begin(), kCommands.end(), upper,
                                   [](const Entry& e, std::string_view n) { return e.name < n; });
  return it != kCommands.end() && it->name == upper ? &*it : nullptr;
}

std::optional<std::size_t> count_at(std::span<const Arg> command, std::size_t index) {
  if (index >= command.size()) return std::nullopt;
  const std::string_view text = command[index].view();
  std::size_t count = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), count);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return count;
}

void add_range(std::vector<std::size_t>& out, std::size_t from, std::size_t to, std::size_t step) {
  for (std::size_t i = from; i < to; i += step) out.push_back(i);
}

std::vector<std::size_t> key_indexes(Keys keys, std::span<const Arg> command) {
  std::vector<std::size_t> out;
  const std::size_t n = command.size();
  switch (keys) {
    case Keys::none:
      break;
    case Keys::first:
      if (n > 1) out.push_back(1);
      break;
    case Keys::first_two:
      add_range(out, 1, std::min<std::size_t>(n, 3), 1);
      break;
    case Keys::all:
      add_range(out, 1, n, 1);
      break;
    case Keys::all_but_last:
      if (n > 2) add_range(out, 1, n - 1, 1);
      break;
    case Keys::every_other:
      add_range(out, 1, n, 2);
      break;
    case Keys::numkeys_at_2:
      if (const auto count = count_at(command, 2)) add_range(out, 3, std::min(n, 3 + *count), 1);
      break;
    case Keys::dest_numkeys:
      if (n > 1) out.push_back(1);
      if (const auto count = count_at(command, 2)) add_range(out, 3, std::min(n, 3 + *count), 1);
      break;
    case Keys::bitop:
      add_range(out, 2, n, 1);
      break;
  }
  return out;
}

}  // namespace

CommandRouting route_of(std::span<const Arg> command) {
  CommandRouting routing;
  if (command.empty()) return routing;
  const Entry* entry = find_entry(command.front().view());
  if (entry == nullptr) {
    if (command.size() > 1) routing.key_indexes.push_back(1);
    return routing;
  }
  routing.known = true;
  routing.read_only = entry->read_only;
  routing.split = entry->split;
  routing.key_stride = entry->keys == Keys::every_other ? 2 : 1;
  routing.key_indexes = key_indexes(entry->keys, command);
  return routing;
}

std::optional<std::uint16_t> common_slot(std::span<const Arg> command,
                                         const CommandRouting& routing, bool& spans) {
  spans = false;
  std::optional<std::uint16_t> slot;
  for (const std::size_t index : routing.key_indexes) {
    const std::uint16_t this_slot = key_slot(command[index].view());
    if (slot && *slot != this_slot) {
      spans = true;
      return std::nullopt;
    }
    slot = this_slot;
  }
  return slot;
}

}  // namespace poolkit::redis::detail
