#include "poolkit/url.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "ascii.hpp"
#include "percent_encoding.hpp"
#include "poolkit/error.hpp"

namespace poolkit {
namespace {

using detail::ascii_lower;
using detail::hex_value;
using detail::is_all_digits;
using detail::is_ascii_alnum;
using detail::is_ascii_digit;
using detail::percent_decode;
using detail::percent_encode;

constexpr std::array<std::string_view, 7> kKnownSchemes{"mongodb", "mongodb+srv", "redis", "rediss",
                                                        "unix",    "http",        "https"};

// Added to messages about hosts and ports: the usual cause is a password with a reserved
// character that ended the user-info part early.
constexpr std::string_view kEncodingHint =
    " (if the user name or password contains ':', '/', '?', '#' or '@', percent-encode it)";

// Every parse failure ends here. The message never includes any part of the URL: in a malformed
// URL we cannot know which part is the password.
[[noreturn]] void reject(std::string_view why) {
  throw ConfigError("invalid URL: " + std::string(why));
}

bool is_known_scheme(std::string_view scheme) {
  return std::find(kKnownSchemes.begin(), kKnownSchemes.end(), scheme) != kKnownSchemes.end();
}

std::string decode_userinfo_part(std::string_view text) {
  auto decoded = percent_decode(text);
  if (!decoded) reject("invalid percent-encoding in the user name or password");
  return *std::move(decoded);
}

// Splits "user:password@hosts" and stores the user info; returns the host part.
std::string_view take_userinfo(std::string_view authority, Url& url) {
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return authority;
  const std::string_view userinfo = authority.substr(0, at);
  if (userinfo.find('@') != std::string_view::npos) {
    reject("the user name or password contains '@'; percent-encode it as %40");
  }
  const auto colon = userinfo.find(':');
  url.username = decode_userinfo_part(userinfo.substr(0, colon));
  if (colon != std::string_view::npos) {
    url.password = decode_userinfo_part(userinfo.substr(colon + 1));
  }
  return authority.substr(at + 1);
}

std::uint16_t parse_port(std::string_view text) {
  const std::string why =
      "a port must be a whole number from 1 to 65535" + std::string(kEncodingHint);
  if (!is_all_digits(text)) reject(why);
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size() || value < 1 || value > 65535) {
    reject(why);
  }
  return static_cast<std::uint16_t>(value);
}

bool is_host_name_char(char c) {
  return is_ascii_alnum(c) || c == '-' || c == '.' || c == '_';
}

bool is_ipv6_char(char c) {
  return hex_value(c) >= 0 || c == ':' || c == '.';
}

void check_host_name(std::string_view name, bool bracketed) {
  if (name.empty()) reject("a host name is empty" + std::string(kEncodingHint));
  const auto allowed = bracketed ? is_ipv6_char : is_host_name_char;
  if (!std::all_of(name.begin(), name.end(), allowed)) {
    reject(bracketed ? "an IPv6 address in [brackets] contains a character that is not allowed"
                     : "a host name may contain only letters, digits, '-', '.' and '_'" +
                           std::string(kEncodingHint));
  }
}

// mongodb:// names a unix socket by its percent-encoded path as a host, as libmongoc and the
// connection string spec allow: mongodb://%2Ftmp%2Fmongodb-27017.sock. Decoded, without a port.
UrlHost parse_socket_host(std::string_view text) {
  auto path = percent_decode(text);
  if (!path || path->empty() || path->front() != '/') {
    reject(
        "a host with '%' must be a percent-encoded unix socket path such as "
        "%2Ftmp%2Fmongodb-27017.sock");
  }
  return UrlHost{*std::move(path), std::nullopt};
}

UrlHost parse_host(std::string_view text, bool allow_socket_path) {
  if (allow_socket_path && text.find('%') != std::string_view::npos) {
    return parse_socket_host(text);
  }
  UrlHost host;
  std::string_view port_part;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) reject("an IPv6 address lacks its closing ']'");
    host.name = std::string(text.substr(1, close - 1));
    check_host_name(host.name, true);
    const std::string_view after = text.substr(close + 1);
    if (!after.empty() && after.front() != ':') reject("unexpected text after an IPv6 address");
    has_port = !after.empty();
    if (has_port) port_part = after.substr(1);
  } else {
    const auto colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      reject("a host has more than one ':'; write an IPv6 address in [brackets]" +
             std::string(kEncodingHint));
    }
    host.name = std::string(text.substr(0, colon));
    check_host_name(host.name, false);
    has_port = colon != std::string_view::npos;
    if (has_port) port_part = text.substr(colon + 1);
  }
  if (has_port) host.port = parse_port(port_part);
  return host;
}

std::vector<UrlHost> parse_hosts(std::string_view text, bool allow_socket_paths) {
  std::vector<UrlHost> hosts;
  if (text.empty()) return hosts;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const std::string_view item = text.substr(start, comma - start);
    if (item.empty()) reject("the host list has an empty entry");
    hosts.push_back(parse_host(item, allow_socket_paths));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return hosts;
}

std::vector<UrlQueryParam> parse_query(std::string_view text) {
  std::vector<UrlQueryParam> params;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto amp = std::min(text.find('&', start), text.size());
    const std::string_view item = text.substr(start, amp - start);
    start = amp + 1;
    if (item.empty()) continue;  // "a=1&&b=2" and a trailing '&' are harmless
    const auto equals = item.find('=');
    if (equals == std::string_view::npos) reject("a query option has no '=' (expected name=value)");
    auto key = percent_decode(item.substr(0, equals));
    auto value = percent_decode(item.substr(equals + 1));
    if (!key || !value) reject("invalid percent-encoding in the query");
    if (key->empty()) reject("a query option has no name");
    params.push_back({*std::move(key), *std::move(value)});
  }
  return params;
}

void check_scheme_rules(const Url& url, std::string_view host_part) {
  if (url.scheme == "unix") {
    if (!host_part.empty()) {
      reject("a unix:// URL names a socket path, not a host: write unix:///path/to/socket");
    }
    if (url.path.size() < 2) reject("a unix:// URL needs a socket path, e.g. unix:///run/x.sock");
    return;
  }
  if (url.hosts.empty()) reject("no host" + std::string(kEncodingHint));
  if (url.scheme == "mongodb+srv") {
    if (url.hosts.size() != 1 || url.hosts.front().port) {
      reject("a mongodb+srv:// URL takes exactly one host name and no port");
    }
    return;
  }
  // A Redis URL may list a cluster's seed nodes or the sentinels; whether the chosen REDIS_MODE
  // takes several is the settings' judgement (redis_hosts_problem), not the parser's.
  const bool may_list_hosts =
      url.scheme == "mongodb" || url.scheme == "redis" || url.scheme == "rediss";
  if (!may_list_hosts && url.hosts.size() != 1) {
    reject("only mongodb://, redis:// and rediss:// URLs may list several hosts");
  }
}

std::string format_host(const UrlHost& host) {
  const bool is_ipv6 = host.name.find(':') != std::string::npos;
  std::string text = is_ipv6 ? "[" + host.name + "]" : host.name;
  if (host.port) text += ":" + std::to_string(*host.port);
  return text;
}

// Query values keep ',', ':' and '/' readable (MongoDB tag sets, paths) and still parse back.
constexpr std::string_view kReadableQueryChars = ",:/";

// The URL rebuilt from its parts, for a Url assembled by hand (parse_url keeps the text).
std::string compose(const Url& url) {
  std::string out = url.scheme + "://";
  if (!url.username.empty() || url.password) {
    out += percent_encode(url.username);
    if (url.password) out += ":" + percent_encode(*url.password);
    out += '@';
  }
  for (std::size_t i = 0; i < url.hosts.size(); ++i) {
    if (i > 0) out += ',';
    out += format_host(url.hosts[i]);
  }
  out += url.path;
  for (std::size_t i = 0; i < url.query.size(); ++i) {
    out += i == 0 ? '?' : '&';
    out += percent_encode(url.query[i].key) + '=' +
           percent_encode(url.query[i].value, kReadableQueryChars);
  }
  return out;
}

}  // namespace

Url parse_url(std::string_view text) {
  Url url;
  const auto separator = text.find("://");
  if (separator == std::string_view::npos) {
    reject("it does not start with a scheme such as redis:// or mongodb://");
  }
  url.scheme = ascii_lower(text.substr(0, separator));
  if (!is_known_scheme(url.scheme)) {
    reject("unsupported scheme; expected mongodb, mongodb+srv, redis, rediss, unix, http or https");
  }
  const std::string_view rest = text.substr(separator + 3);
  if (rest.find('#') != std::string_view::npos) {
    reject("it contains '#'; a fragment is not allowed (write '#' in a password as %23)");
  }
  const auto authority_end = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view after_authority =
      authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);

  const std::string_view host_part = take_userinfo(authority, url);
  if (url.scheme != "unix") url.hosts = parse_hosts(host_part, url.scheme == "mongodb");

  const auto question = after_authority.find('?');
  url.path = std::string(after_authority.substr(0, question));
  if (question != std::string_view::npos) {
    url.query = parse_query(after_authority.substr(question + 1));
  }
  check_scheme_rules(url, host_part);
  url.text = std::string(text);
  return url;
}

std::string Url::redacted() const {
  return redact_url_text(text.empty() ? compose(*this) : text);
}

namespace {

// The secret parts of a URL's text exactly as written (possibly percent-encoded).
std::vector<std::string_view> raw_secrets(std::string_view text) {
  std::vector<std::string_view> secrets;
  const auto separator = text.find("://");
  if (separator == std::string_view::npos) return secrets;
  const std::string_view rest = text.substr(separator + 3);
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    const auto colon = userinfo.find(':');
    secrets.push_back(colon == std::string_view::npos ? userinfo : userinfo.substr(colon + 1));
  }
  const auto question = rest.find('?');
  if (question == std::string_view::npos) return secrets;
  std::string_view query = rest.substr(question + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto equals = item.find('=');
    if (equals == std::string_view::npos) continue;
    const auto name = percent_decode(item.substr(0, equals));
    if (!name || is_secret_query_key(*name)) secrets.push_back(item.substr(equals + 1));
  }
  return secrets;
}

void mask_all(std::string& message, std::string_view secret) {
  constexpr std::string_view kMask = "****";
  if (secret.empty()) return;
  // The search goes on after the mask just written: a secret found in the mask itself ("*",
  // "**", or "****" from a URL that was already redacted) must not be replaced forever.
  for (auto at = message.find(secret); at != std::string::npos;
       at = message.find(secret, at + kMask.size())) {
    message.replace(at, secret.size(), kMask);
  }
}

}  // namespace

std::string Url::scrub(std::string message) const {
  std::vector<std::string> secrets;
  if (password) secrets.push_back(*password);
  for (const UrlQueryParam& param : query) {
    if (is_secret_query_key(param.key)) secrets.push_back(param.value);
  }
  for (const std::string_view raw : raw_secrets(text)) secrets.emplace_back(raw);
  // Longest first, so a secret that contains another is masked whole.
  std::sort(secrets.begin(), secrets.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& secret : secrets) mask_all(message, secret);
  return message;
}

std::optional<std::string> Url::query_value(std::string_view key) const {
  const auto match = std::find_if(query.rbegin(), query.rend(), [key](const UrlQueryParam& param) {
    return detail::equals_ignoring_case(param.key, key);
  });
  if (match == query.rend()) return std::nullopt;
  return match->value;
}

}  // namespace poolkit
