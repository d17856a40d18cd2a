#pragma once
// Connection URLs for every backend (mongodb://, mongodb+srv://, redis://, rediss://, unix://,
// http://, https://), parsed into parts and printable only with their secrets masked.
//
// A URL usually carries a password, so nothing here ever puts the password, or any text that
// might be one, into a message: parse errors describe the problem without quoting the input,
// and redacted() masks the password and secret query values (see redact.hpp).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/redact.hpp"

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

  // The URL with its secrets masked by redact_url_text(), e.g. "redis://app:****@127.0.0.1:6379/0".
  // Safe for logs, errors and output.
  std::string redacted() const;

  // `message` (from a driver: libmongoc, hiredis, libcurl) with every secret of this URL masked
  // wherever it appears: the password and the secret query values, decoded and as written.
  std::string scrub(std::string message) const;

  // The value of the last query parameter named `key` (compared case-insensitively, as MongoDB
  // and Redis clients do), or nullopt.
  std::optional<std::string> query_value(std::string_view key) const;
};

// Parses a URL of one of the schemes above. Throws ConfigError saying what is wrong; the message
// never quotes the input, since any part of a malformed URL may be a password.
Url parse_url(std::string_view text);

}  // namespace poolkit
