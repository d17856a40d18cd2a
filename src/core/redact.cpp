#include "poolkit/redact.hpp"

#include <algorithm>
#include <array>
#include <span>

#include "ascii.hpp"
#include "percent_encoding.hpp"

namespace poolkit {
namespace {

using detail::ascii_lower;
using detail::is_all_digits;

constexpr std::string_view kMask = "****";

// A URL inside a query value (a redirect target, a callback) is masked too, one level deep:
// deeper nesting is not worth reading, and the limit bounds the work on hostile input.
constexpr int kNestedUrlDepth = 1;

// Schemes whose user name is an account name worth showing. Elsewhere (https://TOKEN@host,
// https://TOKEN:x-oauth-basic@host) the user name is often the credential itself.
constexpr std::array<std::string_view, 5> kAccountSchemes{"redis", "rediss", "unix", "mongodb",
                                                          "mongodb+srv"};

bool is_scheme_char(char c) {
  return detail::is_ascii_alnum(c) || c == '+' || c == '-' || c == '.';
}

bool is_valid_scheme(std::string_view scheme) {
  return !scheme.empty() && std::all_of(scheme.begin(), scheme.end(), is_scheme_char);
}

// Up to five digits after any leading zeros: every port parse_url accepts, and a mistyped one
// like 99999 that the user needs to see. Anything longer in that place is more likely a
// password whose '@' is missing.
bool is_port(std::string_view text) {
  if (!is_all_digits(text)) return false;
  while (text.size() > 1 && text.front() == '0') text.remove_prefix(1);
  return text.size() <= 5;
}

// "host", "host:port" or "[v6]:port". A port that is not a number is usually the tail of a
// password whose ':' or '/' was not percent-encoded, so it is masked.
std::string redact_host(std::string_view item) {
  std::string_view host = item;
  std::string_view port_part;
  if (item.starts_with('[')) {
    const auto close = item.find(']');
    if (close == std::string_view::npos) return std::string(item);
    host = item.substr(0, close + 1);
    port_part = item.substr(close + 1);
  } else if (const auto colon = item.find(':'); colon != std::string_view::npos) {
    host = item.substr(0, colon);
    port_part = item.substr(colon);
  }
  if (port_part.empty()) return std::string(host);
  if (port_part.front() == ':' && is_port(port_part.substr(1))) return std::string(item);
  return std::string(host) + ":" + std::string(kMask);
}

std::string redact_userinfo(std::string_view userinfo, std::string_view scheme) {
  const auto colon = userinfo.find(':');
  const bool shows_user =
      colon != std::string_view::npos && std::find(kAccountSchemes.begin(), kAccountSchemes.end(),
                                                   ascii_lower(scheme)) != kAccountSchemes.end();
  if (!shows_user) return std::string(kMask) + "@";
  return std::string(userinfo.substr(0, colon)) + ":" + std::string(kMask) + "@";
}

std::string redact_authority(std::string_view authority, std::string_view scheme) {
  std::string out;
  const auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    out += redact_userinfo(authority.substr(0, at), scheme);
    authority.remove_prefix(at + 1);
  }
  while (true) {
    const auto comma = authority.find(',');
    out += redact_host(authority.substr(0, comma));
    if (comma == std::string_view::npos) break;
    out += ',';
    authority.remove_prefix(comma + 1);
  }
  return out;
}

std::string redact_url(std::string_view text, int depth);

std::string redact_query_item(std::string_view item, int depth) {
  if (item.empty()) return {};
  const auto equals = item.find('=');
  if (equals == std::string_view::npos) return std::string(kMask);  // could be a bare token
  const std::string_view raw_name = item.substr(0, equals);
  const std::string_view raw_value = item.substr(equals + 1);
  const auto name = detail::percent_decode(raw_name);
  std::string out = std::string(raw_name) + "=";
  if (!name || is_secret_query_key(*name)) return out + std::string(kMask);
  const auto value = detail::percent_decode(raw_value);
  if (depth > 0 && value && value->find("://") != std::string::npos) {
    const std::string masked = redact_url(*value, depth - 1);
    if (masked != *value) return out + detail::percent_encode(masked, ":/,@*");
  }
  return out + std::string(raw_value);
}

std::string redact_query(std::string_view query, int depth) {
  std::string out;
  while (true) {
    const auto amp = query.find('&');
    out += redact_query_item(query.substr(0, amp), depth);
    if (amp == std::string_view::npos) break;
    out += '&';
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string redact_url(std::string_view text, int depth) {
  if (text.empty()) return {};
  const auto separator = text.find("://");
  if (separator == std::string_view::npos || !is_valid_scheme(text.substr(0, separator))) {
    return std::string(kMask);
  }
  const std::string_view scheme = text.substr(0, separator);
  std::string_view rest = text.substr(separator + 3);
  const auto hash = rest.find('#');
  const std::string_view fragment =
      hash == std::string_view::npos ? std::string_view{} : rest.substr(hash + 1);
  rest = rest.substr(0, hash);

  const auto authority_end = rest.find_first_of("/?");
  std::string out = std::string(scheme) + "://";
  out += redact_authority(rest.substr(0, authority_end), scheme);
  if (authority_end != std::string_view::npos) {
    const std::string_view after = rest.substr(authority_end);
    const auto question = after.find('?');
    out += after.substr(0, question);  // the path: where the request went
    if (question != std::string_view::npos) {
      out += '?';
      out += redact_query(after.substr(question + 1), depth);
    }
  }
  if (hash != std::string_view::npos) {
    out += '#';
    if (!fragment.empty()) out += kMask;  // OAuth flows put tokens there
  }
  return out;
}

bool contains_any(std::string_view text, std::span<const std::string_view> markers) {
  return std::any_of(markers.begin(), markers.end(), [text](std::string_view marker) {
    return text.find(marker) != std::string_view::npos;
  });
}

bool is_one_of(std::string_view text, std::span<const std::string_view> words) {
  return std::find(words.begin(), words.end(), text) != words.end();
}

}  // namespace

std::string redact_url_text(std::string_view text) {
  return redact_url(text, kNestedUrlDepth);
}

bool is_secret_query_key(std::string_view key) {
  // Names that are a credential only as a whole word ("key", not "tlsCertificateKeyFile";
  // "auth", not "authSource").
  constexpr std::array<std::string_view, 11> kSecretNames{
      "sig", "key",    "auth",          "code", "jwt",    "x-amz-credential",
      "sas", "apikey", "authorization", "otp",  "session"};
  // Parts of names that mark a credential wherever they appear.
  constexpr std::array<std::string_view, 14> kSecretMarkers{
      "pass",       "pwd",
      "token",      "secret",
      "credential", "signature",
      "api_key",    "api-key",
      "apikey",     "access_key",
      "accesskey",  "private_key",
      "privatekey", "authmechanismproperties"};
  const std::string lowered = ascii_lower(key);
  return is_one_of(lowered, kSecretNames) || contains_any(lowered, kSecretMarkers);
}

bool is_secret_header(std::string_view name) {
  constexpr std::array<std::string_view, 6> kSecretHeaders{
      "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key"};
  constexpr std::array<std::string_view, 6> kSecretMarkers{"token",  "secret",     "password",
                                                           "apikey", "credential", "signature"};
  const std::string lowered = ascii_lower(name);
  return is_one_of(lowered, kSecretHeaders) || contains_any(lowered, kSecretMarkers);
}

std::string redact_header_value(std::string_view name, std::string_view value) {
  return is_secret_header(name) ? std::string(kMask) : std::string(value);
}

}  // namespace poolkit
