#pragma once
// Where a command's keys are, for routing in a cluster: the node that owns the keys' slot must
// run it. Also whether it only reads (REDIS_READ_FROM may send it to a replica) and whether a
// multi-key command may be split by slot and its replies put back together.

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "poolkit/redis.hpp"

namespace poolkit::redis::detail {

// How a multi-key command whose keys span slots can be run.
enum class SplitKind {
  none,           // one key, no key, or not splittable: all keys must share one slot
  concat_values,  // MGET: one reply per key, put back in the caller's order
  sum_integers,   // DEL, UNLINK, EXISTS, TOUCH: the replies add up
  all_ok,         // MSET: every part answers OK
};

struct CommandRouting {
  std::vector<std::size_t> key_indexes;  // argument positions holding keys, in order
  bool known = false;                    // the command is in the table
  bool read_only = false;                // safe to send to a replica (READONLY)
  SplitKind split = SplitKind::none;
  std::size_t key_stride = 1;  // MSET: key, value, key, value: each key carries one value
};

// The routing of `command` (its first argument is the name, in any case). An unknown command
// is routed by its first argument as a key when it has one (known = false), which is what
// most module commands expect; a command without keys goes to any master.
CommandRouting route_of(std::span<const Arg> command);

// The slot every key of `routing` hashes to, or nullopt when there are no keys or when they
// span slots (`spans` is then set).
std::optional<std::uint16_t> common_slot(std::span<const Arg> command,
                                         const CommandRouting& routing, bool& spans);

}  // namespace poolkit::redis::detail
