#include "poolkit/pool_stats.hpp"

namespace poolkit {

std::string_view to_string(PoolState state) noexcept {
  switch (state) {
    case PoolState::paused:
      return "paused";
    case PoolState::ready:
      return "ready";
    case PoolState::closed:
      return "closed";
  }
  return "unknown";
}

}  // namespace poolkit
