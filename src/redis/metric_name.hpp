#pragma once
// The name a command is counted under in the metrics (pooled and async clients alike).

#include <cstddef>
#include <span>
#include <string_view>

#include "poolkit/redis.hpp"

namespace poolkit::redis::detail {

// Metric names are command names in upper case; anything else (a typo, a binary blob) is
// counted as OTHER so a caller cannot grow the metrics without bound.
class MetricName {
 public:
  MetricName() = default;  // OTHER
  explicit MetricName(std::string_view name) noexcept {
    if (name.empty() || name.size() > sizeof text_) return;
    for (std::size_t i = 0; i < name.size(); ++i) {
      const char c = name[i];
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '.';
      if (!letter) return;
      text_[i] = c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c;
    }
    length_ = static_cast<unsigned char>(name.size());
  }
  explicit MetricName(std::span<const Arg> command) noexcept
      : MetricName(command.empty() ? std::string_view() : command.front().view()) {}
  std::string_view view() const noexcept {
    return length_ == 0 ? std::string_view("OTHER") : std::string_view(text_, length_);
  }

 private:
  char text_[24] = {};
  unsigned char length_ = 0;
};

}  // namespace poolkit::redis::detail
