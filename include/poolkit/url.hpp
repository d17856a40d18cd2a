#pragma once
// Connection URLs for every backend (mongodb://, mongodb+srv://, redis://, rediss://, unix://,
// http://, https://), parsed into parts and printable only with their secrets masked.
//
// A URL usually carries a password, so nothing here ever puts the password, or any text that
// might be one, into a message: parse errors describe the problem without quoting the input,
// and redacted() replaces the password and secret-looking query values with "****".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poolkit {

struct UrlHost {
  // Host name or IP address (an IPv6 address without brackets); for mongodb:// also a unix
  // socket path, written percent-encoded in the URL (%2Ftmp%2Fmongodb.sock) and decoded here.
  std::string name;
  std::optional<std::uint16_t> port;  // nullopt: the scheme's default port

  bool operator==(const UrlHost&) const = default;
};

struct UrlQueryParam {
  std::string key;    // percent-decoded
  std::string value;  // percent-decoded

  bool operator==(const UrlQueryParam&) const = default;
};

struct Url {
  // The URL exactly as given. It holds the password: hand it to a driver, never print it.
  std::string text;
  std::string scheme;                   // lower case, e.g. "redis", "mongodb+srv", "unix"
  std::string username;                 // percent-decoded; empty when absent
  std::optional<std::string> password;  // percent-decoded; secret
  std::vector<UrlHost> hosts;           // several for a mongodb:// replica set; none for unix://
  std::string path;                     // as written: "/0", "/appdb", "/run/redis.sock", or ""
  std::vector<UrlQueryParam> query;     // in order of appearance

  // The URL with the password and secret-looking query values (password, token, ...) replaced
  // by "****", e.g. "redis://app:****@127.0.0.1:6379/0". Safe for logs, errors and output.
  std::string redacted() const;

  // The value of the last query parameter named `key` (compared case-insensitively, as MongoDB
  // and Redis clients do), or nullopt.
  std::optional<std::string> query_value(std::string_view key) const;
};

// Parses a URL of one of the schemes above. Throws ConfigError saying what is wrong; the message
// never quotes the input, since any part of a malformed URL may be a password.
Url parse_url(std::string_view text);

// Masks text that may not parse as a URL (for showing a rejected value): keeps the scheme and
// what follows the last '@' (secret query values masked), hides everything else that could be
// a secret. Without an '@' only the scheme is kept; empty text stays empty.
std::string redact_url_text(std::string_view text);

// Whether a query parameter with this name carries a secret (password, token, api key, ...).
bool is_secret_query_key(std::string_view key);

}  // namespace poolkit
