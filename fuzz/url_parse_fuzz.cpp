// Fuzz target: parse_url on arbitrary bytes.
//
// Invariants (a broken one traps, so libFuzzer saves the input):
// - parse_url either returns or throws ConfigError; nothing else escapes it.
// - A parsed URL's redacted() form parses again, to the same scheme, hosts and path.
// - redacted() does not depend on the password: the same URL with another password redacts to
//   the same text, so no part of the password can be in it.
// - An error message does not contain the password: the message for the input is compared with
//   the message for the same input with the password replaced by a placeholder, and the password
//   may appear in the first only where it appears in the second too (i.e. in the fixed wording).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

#include "poolkit/error.hpp"
#include "poolkit/url.hpp"

namespace {

// Letters and digits only, so putting it where the password was changes nothing else in the parse.
constexpr std::string_view kPlaceholder = "PlaceholderPw0";

[[noreturn]] void fail(std::string_view what, std::string_view input) {
  std::fprintf(stderr, "url_parse_fuzz: %.*s\n  input: %.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(input.size()), input.data());
  __builtin_trap();
}

struct Outcome {
  std::optional<poolkit::Url> url;  // set when the text parsed
  std::string error;                // the ConfigError message otherwise
};

Outcome parse(std::string_view text) {
  Outcome outcome;
  try {
    outcome.url = poolkit::parse_url(text);
  } catch (const poolkit::ConfigError& error) {
    outcome.error = error.what();
  } catch (...) {
    fail("parse_url threw something other than ConfigError", text);
  }
  return outcome;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return !needle.empty() && haystack.find(needle) != std::string_view::npos;
}

// Where the password is written in `text`, the way a URL writes it: after the first ':' of the
// user info, which ends at the last '@' before the first '/', '?' or '#' of the authority.
struct PasswordSpan {
  std::size_t begin = 0;
  std::size_t size = 0;
};

std::optional<PasswordSpan> find_password(std::string_view text) {
  const auto separator = text.find("://");
  if (separator == std::string_view::npos) return std::nullopt;
  const std::size_t authority_begin = separator + 3;
  const std::string_view rest = text.substr(authority_begin);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return std::nullopt;
  const auto colon = authority.substr(0, at).find(':');
  if (colon == std::string_view::npos || colon + 1 == at) return std::nullopt;
  return PasswordSpan{authority_begin + colon + 1, at - colon - 1};
}

std::string with_placeholder(std::string_view text, PasswordSpan span) {
  std::string replaced(text);
  replaced.replace(span.begin, span.size, kPlaceholder);
  return replaced;
}

// The password with every letter and digit moved to the next one of its kind, hex digits staying
// hex digits (a-f, A-F, 0-9 within themselves; g-z, G-Z likewise), punctuation kept: the URL
// fails to parse for the same reasons, so an error message that does not quote the password
// comes out the same.
std::string with_rotated_password(std::string_view text, PasswordSpan span) {
  const auto rotate = [](char c, char first, char last) {
    return c == last ? first : static_cast<char>(c + 1);
  };
  std::string rotated(text);
  for (std::size_t i = span.begin; i < span.begin + span.size; ++i) {
    char& c = rotated[i];
    if (c >= '0' && c <= '9')
      c = rotate(c, '0', '9');
    else if (c >= 'a' && c <= 'f')
      c = rotate(c, 'a', 'f');
    else if (c >= 'g' && c <= 'z')
      c = rotate(c, 'g', 'z');
    else if (c >= 'A' && c <= 'F')
      c = rotate(c, 'A', 'F');
    else if (c >= 'G' && c <= 'Z')
      c = rotate(c, 'G', 'Z');
  }
  return rotated;
}

// The input's error message must not quote the password, written or decoded: whatever of it the
// message holds must also be in the message for the same input with a placeholder password, and
// the message must not change when the password's letters and digits do. (The second test keeps
// a password that happens to spell part of the fixed wording, e.g. "ns '@'; perce" against
// "contains '@'; percent-encode", from counting as quoted.)
void check_error_hides_password(std::string_view text, const Outcome& outcome) {
  if (outcome.url) return;
  const auto span = find_password(text);
  if (!span || span->size < 3) return;  // one or two characters occur in any wording
  const std::string_view written = text.substr(span->begin, span->size);
  if (contains(kPlaceholder, written)) return;
  const Outcome placeholder = parse(with_placeholder(text, *span));
  if (placeholder.url) return;  // the password itself was what failed: nothing to compare with
  if (!contains(outcome.error, written) || contains(placeholder.error, written)) return;
  const Outcome rotated = parse(with_rotated_password(text, *span));
  if (rotated.url) return;  // the password's own characters were what failed
  if (rotated.error != outcome.error) {
    fail("an error message quotes the password: " + outcome.error, text);
  }
}

void check_round_trip(std::string_view text, const poolkit::Url& url) {
  const std::string redacted = url.redacted();
  const Outcome again = parse(redacted);
  if (!again.url) fail("redacted() does not parse again: " + again.error + " in " + redacted, text);
  if (again.url->scheme != url.scheme) fail("the scheme changed in " + redacted, text);
  if (again.url->hosts != url.hosts) fail("the hosts changed in " + redacted, text);
  if (again.url->path != url.path) fail("the path changed in " + redacted, text);
}

void check_redacted_hides_password(std::string_view text, const poolkit::Url& url) {
  if (!url.password) return;
  poolkit::Url other = url;
  other.password = std::string(kPlaceholder);
  if (other.redacted() != url.redacted()) {
    fail("redacted() depends on the password: " + url.redacted(), text);
  }
  // The same URL made invalid in ways that leave the password where it is: an unknown scheme,
  // and an unclosed '[' where the hosts begin.
  const auto span = find_password(text);
  if (!span) return;
  const std::string unknown_scheme = "nosuch" + std::string(text.substr(text.find("://")));
  check_error_hides_password(unknown_scheme, parse(unknown_scheme));
  std::string unclosed_bracket(text);
  unclosed_bracket.insert(span->begin + span->size + 1, "[");
  check_error_hides_password(unclosed_bracket, parse(unclosed_bracket));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Outcome outcome = parse(text);
  check_error_hides_password(text, outcome);
  if (outcome.url) {
    check_round_trip(text, *outcome.url);
    check_redacted_hides_password(text, *outcome.url);
  }
  return 0;
}
