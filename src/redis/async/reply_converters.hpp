#pragma once
// What each typed awaitable gives, from its reply: shared by AsyncClient's and
// AsyncClusterClient's async_* helpers (an Awaitable<T> holds a plain function pointer to one).

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "poolkit/redis.hpp"

namespace poolkit::redis::detail {

inline Reply as_reply(Reply&& reply) {
  return std::move(reply);
}
inline std::optional<std::string> as_optional_string(Reply&& reply) {
  return reply.as_optional_string();
}
inline long long as_integer(Reply&& reply) {
  return reply.as_integer();
}
inline bool as_flag(Reply&& reply) {
  return reply.as_integer() != 0;
}
inline bool as_set_done(Reply&& reply) {
  return !reply.is_nil();  // SET NX/XX answers nil when its condition was not met
}
inline std::vector<std::optional<std::string>> as_optional_strings(Reply&& reply) {
  return optional_strings_of(reply);
}

}  // namespace poolkit::redis::detail
