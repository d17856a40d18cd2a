#pragma once
// What the topology clients need of a node's redis::Client beyond its public API, and the
// metric name every client counts a command under.

#include <functional>
#include <span>
#include <string_view>

#include "poolkit/redis.hpp"

namespace poolkit::redis::detail {

// Settings for a topology client made from a URL and its nodes' Options in code (not from the
// environment): the URL parsed, `mode`, and every field RedisSettings holds taken from `node`.
RedisSettings settings_of_node_options(std::string_view url, RedisMode mode, const Options& node);

// Metric names are command names in upper case; anything else (a typo, a binary blob) is
// counted as OTHER so a caller cannot grow the metrics without bound.
class MetricName {
 public:
  MetricName() = default;  // OTHER
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

struct ClientAccess {
  // fn on one leased connection, retried only when it wrote nothing (as with_connection), and
  // counted in the client's command metrics under `name` rather than WITH_CONNECTION: outcome
  // "server" when fn returns true (the server answered with an error reply), "ok" otherwise,
  // the error's code when it throws.
  static void run(Client& client, std::string_view name,
                  const std::function<bool(Connection&)>& fn);
};

}  // namespace poolkit::redis::detail
