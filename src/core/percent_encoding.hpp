#pragma once
// Percent-encoding (RFC 3986) for URL parts: the URL parser decodes with it, the masker reads
// parameter names with it, and both re-encode what they print.

#include <optional>
#include <string>
#include <string_view>

#include "ascii.hpp"

namespace poolkit::detail {

constexpr int hex_value(char c) noexcept {
  if (is_ascii_digit(c)) return c - '0';
  const char lower = ascii_lower(c);
  if (lower >= 'a' && lower <= 'f') return lower - 'a' + 10;
  return -1;
}

// nullopt when a '%' is not followed by two hex digits.
inline std::optional<std::string> percent_decode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int high = hex_value(text[i + 1]);
    const int low = hex_value(text[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    decoded += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return decoded;
}

constexpr bool is_unreserved(char c) noexcept {
  return is_ascii_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Encodes everything except unreserved characters and `also_keep`.
inline std::string percent_encode(std::string_view text, std::string_view also_keep = {}) {
  constexpr std::string_view kHexDigits = "0123456789ABCDEF";
  std::string encoded;
  encoded.reserve(text.size());
  for (const char c : text) {
    if (is_unreserved(c) || also_keep.find(c) != std::string_view::npos) {
      encoded += c;
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    encoded += '%';
    encoded += kHexDigits[byte >> 4];
    encoded += kHexDigits[byte & 0x0F];
  }
  return encoded;
}

}  // namespace poolkit::detail
