#pragma once
// Locale-independent character helpers. The <cctype> functions depend on the C locale and are
// undefined for negative chars, so configuration parsing uses these instead.

#include <string>
#include <string_view>

namespace poolkit::detail {

constexpr bool is_ascii_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}

// Non-empty and digits only: no sign, blank, exponent or hex.
constexpr bool is_all_digits(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!is_ascii_digit(c)) return false;
  }
  return true;
}

constexpr bool is_ascii_letter(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

constexpr bool is_ascii_alnum(char c) noexcept {
  return is_ascii_letter(c) || is_ascii_digit(c);
}

// Space and tab: the only blanks a one-line configuration value may carry around it.
constexpr bool is_blank(char c) noexcept {
  return c == ' ' || c == '\t';
}

constexpr char ascii_lower(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

constexpr char ascii_upper(char c) noexcept {
  return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

inline std::string ascii_lower(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) c = ascii_lower(c);
  return lowered;
}

inline std::string ascii_upper(std::string_view text) {
  std::string raised(text);
  for (char& c : raised) c = ascii_upper(c);
  return raised;
}

inline bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

constexpr std::string_view trim_blanks_left(std::string_view text) noexcept {
  while (!text.empty() && is_blank(text.front())) text.remove_prefix(1);
  return text;
}

constexpr std::string_view trim_blanks_right(std::string_view text) noexcept {
  while (!text.empty() && is_blank(text.back())) text.remove_suffix(1);
  return text;
}

constexpr std::string_view trim_blanks(std::string_view text) noexcept {
  return trim_blanks_right(trim_blanks_left(text));
}

}  // namespace poolkit::detail
