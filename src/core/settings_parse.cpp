// Strict parsing of one setting value, and the words that describe what each kind accepts.

#include <fmt/format.h>
#include <sys/un.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <stdexcept>

#include "ascii.hpp"
#include "poolkit/error.hpp"
#include "settings_detail.hpp"
#include "tls_support.hpp"

namespace poolkit::detail {
namespace {

constexpr std::string_view kEmptyReason = "it is empty (unset the variable to use the default)";

// Seconds are kept to the millisecond: more decimals would be silently rounded away.
constexpr std::size_t kMaxSecondDecimals = 3;

ParsedSetting rejected(std::string reason = {}) {
  return {std::nullopt, std::move(reason)};
}

ParsedSetting accepted(SettingValue value) {
  return {std::move(value), {}};
}

// Digits only: no sign, blanks, exponent or hex. nullopt when the text is not digits or the
// number does not fit.
std::optional<std::int64_t> parse_digits(std::string_view text) {
  if (!is_all_digits(text)) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string join_words(std::span<const std::string_view> words, std::string_view suffix = {}) {
  std::string joined;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) joined += i + 1 == words.size() ? " or " : ", ";
    joined += words[i];
    joined += suffix;
  }
  return joined;
}

bool is_one_of(std::span<const std::string_view> words, std::string_view word) {
  return std::find(words.begin(), words.end(), word) != words.end();
}

ParsedSetting parse_whole_number(const SettingSpec& spec, std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  const auto number = parse_digits(text);
  if (!number) return rejected(is_all_digits(text) ? "it is far too large" : "");
  if (!is_within(spec.valid, static_cast<double>(*number))) return rejected();
  if (spec.kind == ValueKind::milliseconds) return accepted(std::chrono::milliseconds(*number));
  return accepted(*number);
}

// "67108864", "64MiB", "512KiB", "1GiB": binary units only, so the number means one thing.
ParsedSetting parse_bytes(const SettingSpec& spec, std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  constexpr std::array<std::pair<std::string_view, std::int64_t>, 3> kUnits{
      {{"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024}}};
  std::int64_t scale = 1;
  for (const auto& [suffix, factor] : kUnits) {
    if (text.ends_with(suffix)) {
      text.remove_suffix(suffix.size());
      scale = factor;
      break;
    }
  }
  const auto number = parse_digits(text);
  constexpr std::int64_t kLargestCount = std::int64_t{1} << 40;  // keeps * GiB in range
  if (!number) return rejected(is_all_digits(text) && !text.empty() ? "it is far too large" : "");
  if (*number > kLargestCount) return rejected("it is far too large");
  const std::int64_t bytes = *number * scale;
  if (!is_within(spec.valid, static_cast<double>(bytes))) return rejected();
  return accepted(bytes);
}

// "2", "2.5", "0.250": digits, optionally a point and more digits. Computed in integers so
// "0.1" is exactly 100 ms.
ParsedSetting parse_seconds(const SettingSpec& spec, std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  const auto point = text.find('.');
  const std::string_view whole = text.substr(0, point);
  std::string_view fraction =
      point == std::string_view::npos ? std::string_view{} : text.substr(point + 1);
  if (!is_all_digits(whole) || (point != std::string_view::npos && !is_all_digits(fraction))) {
    return rejected();
  }
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (fraction.size() > kMaxSecondDecimals) {
    return rejected("it has more than 3 decimals; poolkit keeps durations to the millisecond");
  }
  const auto whole_seconds = parse_digits(whole);
  constexpr std::int64_t kLargestWholeSeconds = 1'000'000'000'000;  // keeps * 1000 in range
  if (!whole_seconds || *whole_seconds > kLargestWholeSeconds) {
    return rejected("it is far too large");
  }
  std::int64_t millis = *whole_seconds * 1000;
  std::int64_t scale = 100;
  for (const char digit : fraction) {
    millis += (digit - '0') * scale;
    scale /= 10;
  }
  if (!is_within(spec.valid, static_cast<double>(millis) / 1000.0)) return rejected();
  return accepted(std::chrono::milliseconds(millis));
}

bool is_control_char(char c) {
  return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
}

// Well-formed UTF-8: no stray continuation byte, no truncated or overlong sequence, nothing
// above U+10FFFF and no surrogate. libmongoc refuses an application name that is not.
bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 0;
    char32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2;
      code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3;
      code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4;
      code = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return false;
    }
    i += length;
  }
  return true;
}

ParsedSetting parse_text(const SettingSpec& spec, std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  if (spec.max_length > 0 && text.size() > spec.max_length) {
    return rejected(fmt::format("it is {} bytes long", text.size()));
  }
  if (std::any_of(text.begin(), text.end(), is_control_char)) {
    return rejected("it contains a control character");
  }
  if (!is_valid_utf8(text)) return rejected("it is not valid UTF-8");
  return accepted(std::string(text));
}

// Redis refuses client names with spaces, newlines or bytes outside printable ASCII.
ParsedSetting parse_token(const SettingSpec& spec, std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  const auto is_printable = [](char c) { return c > ' ' && c <= '~'; };
  if (!std::all_of(text.begin(), text.end(), is_printable)) {
    return rejected("it contains a space or a character outside printable ASCII");
  }
  if (spec.max_length > 0 && text.size() > spec.max_length) {
    return rejected(fmt::format("it is {} bytes long", text.size()));
  }
  return accepted(std::string(text));
}

// host:port, where host is a name, an IPv4 literal or a bracketed IPv6 literal.
ParsedSetting parse_address(std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return rejected("it has no :port");
  const std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (host.empty() || (!bracketed && host.find(':') != std::string_view::npos))
    return rejected("the host is missing or an IPv6 address is not in brackets");
  const auto is_host_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  };
  if (!std::all_of(host.begin(), host.end(), is_host_char))
    return rejected("the host has a character a host cannot have");
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(std::string(port)) > 65535)
    return rejected("the port is not a number from 0 to 65535");
  return accepted(std::string(text));
}

ParsedSetting parse_choice(const SettingSpec& spec, std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  if (is_one_of(spec.choices, text)) return accepted(std::string(text));
  if (is_one_of(spec.choices, ascii_lower(text))) return rejected("names are lower case");
  return rejected();
}

// Stored as 1 or 0. The spellings Python, YAML and systemd users write.
ParsedSetting parse_boolean(std::string_view text) {
  constexpr std::array<std::string_view, 4> kTrue{"true", "1", "yes", "on"};
  constexpr std::array<std::string_view, 4> kFalse{"false", "0", "no", "off"};
  const std::string lowered = ascii_lower(text);
  if (is_one_of(kTrue, lowered)) return accepted(std::int64_t{1});
  if (is_one_of(kFalse, lowered)) return accepted(std::int64_t{0});
  return rejected(text.empty() ? std::string(kEmptyReason) : std::string());
}

// Any path the file system could hold; whether the file is usable is judged as settings load.
ParsedSetting parse_path(std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  if (std::any_of(text.begin(), text.end(), is_control_char)) {
    return rejected("it contains a control character");
  }
  constexpr std::size_t kPathMax = 4096;
  if (text.size() >= kPathMax) {
    return rejected(fmt::format("it is {} bytes long, over the system's path limit", text.size()));
  }
  return accepted(std::string(text));
}

ParsedSetting parse_list(const SettingSpec& spec, std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  std::vector<std::string> words;
  while (true) {
    const auto comma = text.find(',');
    const std::string_view word = trim_blanks(text.substr(0, comma));
    if (word.empty()) return rejected("an entry is empty");
    if (!is_one_of(spec.choices, word)) return rejected(quote_value(word) + " is not one");
    if (std::find(words.begin(), words.end(), word) != words.end()) {
      return rejected(quote_value(word) + " is listed twice");
    }
    words.emplace_back(word);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return accepted(std::move(words));
}

ParsedSetting parse_url_setting(const SettingSpec& spec, std::string_view text) {
  if (text.empty()) return rejected(std::string(kEmptyReason));
  Url url;
  try {
    url = parse_url(text);
  } catch (const ConfigError& error) {
    return rejected(error.what());  // free of secrets by parse_url's contract
  }
  if (!is_one_of(spec.choices, url.scheme)) return rejected("it has another scheme");
  const bool is_mongo = url.scheme.starts_with("mongodb");
  std::string problem = is_mongo ? mongo_url_problem(url) : redis_url_problem(url);
  if (!problem.empty()) return rejected(std::move(problem));
  return accepted(std::move(url));
}

std::string format_number(double value) {
  return fmt::format("{}", value);
}

std::string describe_seconds(const ValueRange& range) {
  const std::string bounds =
      range.min_exclusive
          ? fmt::format("greater than {} and at most {}", format_number(range.min),
                        format_number(range.max))
          : fmt::format("from {} to {}", format_number(range.min), format_number(range.max));
  return "a number of seconds " + bounds +
         ", written like 2 or 2.5 (at most 3 decimals; no sign, exponent, inf or nan)";
}

}  // namespace

bool names_wait_queue_multiple(std::string_view name) {
  std::string squashed;
  for (const char c : name) {
    if (c != '_' && c != '-') squashed += ascii_lower(c);
  }
  return squashed.find("waitqueuemultiple") != std::string::npos;
}

std::size_t max_socket_path_bytes() noexcept {
  return sizeof(sockaddr_un::sun_path) - 1;
}

namespace {

constexpr std::string_view kRedisDatabaseAdvice =
    "the database must be a whole number, like /0 or ?db=0 (for unix:// only ?db=0)";

// Redis numbers its databases with an int; how many exist is the server's configuration.
std::optional<int> parse_redis_database(std::string_view text) {
  const auto number = parse_digits(text);
  if (!number || *number > std::numeric_limits<int>::max()) return std::nullopt;
  return static_cast<int>(*number);
}

// The database text a Redis URL gives, if any: ?db= wins over the path.
std::optional<std::string> redis_database_text(const Url& url) {
  if (auto db = url.query_value("db")) return db;
  if (url.scheme == "unix" || url.path.empty() || url.path == "/") return std::nullopt;
  return url.path.substr(1);
}

}  // namespace

namespace {

// The unix socket paths among the hosts (a path is written percent-encoded, so it is the only
// kind of host that starts with '/'), each within the system's limit.
std::string socket_path_problem(const Url& url) {
  for (const UrlHost& host : url.hosts) {
    if (host.name.starts_with('/') && host.name.size() > max_socket_path_bytes()) {
      return fmt::format(
          "a socket path is {} bytes long, over the system's limit of {} bytes for a unix socket "
          "path; use a shorter path (e.g. a symbolic link)",
          host.name.size(), max_socket_path_bytes());
    }
  }
  return {};
}

}  // namespace

namespace {

// redis-py's from_url names for the TLS options of a rediss:// URL.
constexpr std::string_view kSslCaCerts = "ssl_ca_certs";
constexpr std::string_view kSslCertfile = "ssl_certfile";
constexpr std::string_view kSslKeyfile = "ssl_keyfile";
constexpr std::string_view kSslCertReqs = "ssl_cert_reqs";
constexpr std::string_view kSslCheckHostname = "ssl_check_hostname";
constexpr std::array<std::string_view, 5> kSslOptions{kSslCaCerts, kSslCertfile, kSslKeyfile,
                                                      kSslCertReqs, kSslCheckHostname};

// ssl_check_hostname's spellings; anything else is refused, not read as true.
std::optional<bool> parse_flag(std::string_view text) {
  const std::string lowered = ascii_lower(text);
  if (lowered == "true" || lowered == "yes" || lowered == "1" || lowered == "on") return true;
  if (lowered == "false" || lowered == "no" || lowered == "0" || lowered == "off") return false;
  return std::nullopt;
}

// A file an ssl_* option names, judged as the REDIS_SSL_* variable's file would be.
std::string tls_file_option_problem(const Url& url, std::string_view option,
                                    std::optional<std::string> (*problem_of)(const std::string&)) {
  const auto path = url.query_value(option);
  if (!path) return {};
  if (const auto problem = problem_of(*path)) {
    return fmt::format("its option {} ({}): {}; name a readable PEM file", option,
                       shorten_value(*path), *problem);
  }
  return {};
}

// The ssl_* options: only on rediss://, known names, valid values, usable files.
std::string redis_tls_option_problem(const Url& url) {
  for (const UrlQueryParam& param : url.query) {
    if (!param.key.starts_with("ssl_")) continue;
    if (std::find(kSslOptions.begin(), kSslOptions.end(), param.key) == kSslOptions.end()) {
      return fmt::format(
          "it has the option {}, which poolkit does not know; the TLS options are "
          "ssl_ca_certs, ssl_certfile, ssl_keyfile, ssl_cert_reqs and "
          "ssl_check_hostname",
          shorten_value(param.key));
    }
    if (url.scheme != "rediss") {
      return fmt::format("it has the TLS option {} but the scheme {}://; use rediss:// for TLS",
                         param.key, url.scheme);
    }
  }
  if (const auto reqs = url.query_value(kSslCertReqs);
      reqs && *reqs != "required" && *reqs != "optional" && *reqs != "none") {
    return fmt::format("its option {} is {}; expected required, optional or none", kSslCertReqs,
                       quote_value(*reqs));
  }
  if (const auto check = url.query_value(kSslCheckHostname); check && !parse_flag(*check)) {
    return fmt::format("its option {} is {}; expected true or false", kSslCheckHostname,
                       quote_value(*check));
  }
  for (auto [option, problem_of] : {std::pair{kSslCaCerts, &ca_location_problem},
                                    std::pair{kSslCertfile, &certificate_file_problem},
                                    std::pair{kSslKeyfile, &private_key_file_problem}}) {
    if (std::string problem = tls_file_option_problem(url, option, problem_of); !problem.empty()) {
      return problem;
    }
  }
  const auto certfile = url.query_value(kSslCertfile);
  const auto keyfile = url.query_value(kSslKeyfile);
  if (certfile && keyfile) {
    if (const auto mismatch = key_mismatch_problem(*certfile, *keyfile)) {
      return fmt::format("its options {} ({}) and {} ({}): {}", kSslCertfile,
                         shorten_value(*certfile), kSslKeyfile, shorten_value(*keyfile), *mismatch);
    }
  }
  return {};
}

}  // namespace

// A weak reference: a Redis-only service does not link the MongoDB layer (nor libmongoc), and
// then this is null; when the MongoDB layer is part of the program, libmongoc's own URI parser
// judges MONGODB_URL during settings validation too.
[[gnu::weak]] std::string mongo_driver_url_problem(const Url& url);
[[gnu::weak]] MongoUrlTlsReview mongo_driver_url_tls_review(const Url& url);

MongoUrlTlsReview mongo_url_tls_review(const Url& url) {
  return mongo_driver_url_tls_review != nullptr ? mongo_driver_url_tls_review(url)
                                                : MongoUrlTlsReview{};
}

std::string mongo_url_problem(const Url& url) {
  for (const UrlQueryParam& param : url.query) {
    if (names_wait_queue_multiple(param.key)) {
      return fmt::format("it has the option {}: {}", shorten_value(param.key),
                         wait_queue_multiple_advice());
    }
  }
  if (std::string problem = socket_path_problem(url); !problem.empty()) return problem;
  return mongo_driver_url_problem != nullptr ? mongo_driver_url_problem(url) : std::string{};
}

std::string redis_url_problem(const Url& url) {
  const bool tcp = url.scheme == "redis" || url.scheme == "rediss";
  if (!tcp && url.scheme != "unix") {
    return "it must be redis://host:port/db, rediss://host:port/db (TLS) or "
           "unix:///path.sock?db=N";
  }
  if (std::string problem = redis_tls_option_problem(url); !problem.empty()) return problem;
  if (url.scheme == "unix" && url.path.size() > max_socket_path_bytes()) {
    return fmt::format(
        "the socket path is {} bytes long, over the system's limit of {} bytes for a unix socket "
        "path; use a shorter path (e.g. a symbolic link)",
        url.path.size(), max_socket_path_bytes());
  }
  if (const auto database = redis_database_text(url);
      database && !parse_redis_database(*database)) {
    return std::string(kRedisDatabaseAdvice);
  }
  // Redis authenticates a user only with a password. The lone name is often a password
  // written without its ':' (redis://secret@host), so it is not repeated here.
  if (!url.username.empty() && !url.password && !url.query_value("password")) {
    return "it names a user but no password: Redis needs both (redis://user:password@host/0); "
           "for a password alone write redis://:password@host/0";
  }
  return {};
}

std::string redis_hosts_problem(const Url& url, RedisMode mode) {
  if (mode == RedisMode::standalone && url.hosts.size() > 1) {
    return fmt::format(
        "it lists {} hosts, but {} is standalone, which talks to one server: list several hosts "
        "only with {}=cluster (seed nodes) or {}=sentinel (the sentinels), or keep one host",
        url.hosts.size(), setting::kRedisMode, setting::kRedisMode, setting::kRedisMode);
  }
  if (mode != RedisMode::standalone && url.scheme == "unix") {
    return fmt::format(
        "a unix:// socket reaches one server, but {} is {}: give the {} as "
        "redis://host:port,host:port",
        setting::kRedisMode, mode == RedisMode::cluster ? "cluster" : "sentinel",
        mode == RedisMode::cluster ? "seed nodes" : "sentinels");
  }
  return {};
}

RedisUrlTls redis_url_tls(const Url& url) {
  RedisUrlTls tls;
  tls.ca_certs = url.query_value(kSslCaCerts);
  tls.certfile = url.query_value(kSslCertfile);
  tls.keyfile = url.query_value(kSslKeyfile);
  if (const auto reqs = url.query_value(kSslCertReqs)) tls.verify_peer = *reqs != "none";
  if (const auto check = url.query_value(kSslCheckHostname))
    tls.check_hostname = parse_flag(*check);
  return tls;
}

int redis_database(const Url& url) {
  const auto text = redis_database_text(url);
  return text ? parse_redis_database(*text).value_or(0) : 0;
}

ParsedSetting parse_setting(const SettingSpec& spec, std::string_view text) {
  switch (spec.kind) {
    case ValueKind::count:
    case ValueKind::milliseconds:
      return parse_whole_number(spec, text);
    case ValueKind::seconds:
      return parse_seconds(spec, text);
    case ValueKind::url:
      return parse_url_setting(spec, text);
    case ValueKind::text:
      return parse_text(spec, text);
    case ValueKind::token:
      return parse_token(spec, text);
    case ValueKind::address:
      return parse_address(text);
    case ValueKind::choice:
      return parse_choice(spec, text);
    case ValueKind::list:
      return parse_list(spec, text);
    case ValueKind::bytes:
      return parse_bytes(spec, text);
    case ValueKind::boolean:
      return parse_boolean(text);
    case ValueKind::path:
      return parse_path(text);
  }
  throw std::logic_error("unknown ValueKind");
}

std::optional<double> numeric_value(const SettingSpec& spec, const SettingValue& value) {
  if (const auto* number = std::get_if<std::int64_t>(&value)) return static_cast<double>(*number);
  if (const auto* duration = std::get_if<std::chrono::milliseconds>(&value)) {
    const auto millis = static_cast<double>(duration->count());
    return spec.kind == ValueKind::seconds ? millis / 1000.0 : millis;
  }
  return std::nullopt;
}

bool is_within(const ValueRange& range, double value) noexcept {
  const bool above_min = range.min_exclusive ? value > range.min : value >= range.min;
  return above_min && value <= range.max;
}

std::string display_text(const SettingSpec& spec, std::string_view raw) {
  if (!spec.secret) return std::string(raw);
  if (spec.kind != ValueKind::url) return "****";
  return redact_url_text(raw);
}

}  // namespace poolkit::detail

namespace poolkit {

namespace {

// The longest prefix of `value` of at most `bytes` bytes that does not end inside a UTF-8
// character.
std::string_view utf8_prefix(std::string_view value, std::size_t bytes) {
  if (value.size() <= bytes) return value;
  const auto is_continuation = [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
  };
  std::size_t end = bytes;
  while (end > 0 && is_continuation(value[end])) --end;
  return value.substr(0, end);
}

}  // namespace

std::string shorten_value(std::string_view value) {
  if (value.size() <= kShownValueBytes) return std::string(value);
  return fmt::format("{}… ({} bytes)", utf8_prefix(value, kShownValueBytes), value.size());
}

std::string quote_value(std::string_view value) {
  if (value.size() <= kShownValueBytes) return fmt::format("{:?}", value);
  return fmt::format("{:?}… ({} bytes)", utf8_prefix(value, kShownValueBytes), value.size());
}

std::string describe_expected(const SettingSpec& spec) {
  using detail::format_number;
  switch (spec.kind) {
    case ValueKind::count:
      return fmt::format("a whole number from {} to {} (digits only)",
                         format_number(spec.valid.min), format_number(spec.valid.max));
    case ValueKind::milliseconds:
      return fmt::format("a whole number of milliseconds from {} to {} (digits only)",
                         format_number(spec.valid.min), format_number(spec.valid.max));
    case ValueKind::seconds:
      return detail::describe_seconds(spec.valid);
    case ValueKind::url:
      return "a URL starting with " + detail::join_words(spec.choices, "://");
    case ValueKind::text:
      return spec.max_length > 0
                 ? fmt::format("non-empty text of at most {} bytes, without control characters",
                               spec.max_length)
                 : std::string("non-empty text without control characters");
    case ValueKind::token:
      return "a name of printable ASCII characters without spaces";
    case ValueKind::address:
      return "host:port, e.g. 127.0.0.1:9464 or [::1]:9464";
    case ValueKind::choice:
      return "one of " + detail::join_words(spec.choices);
    case ValueKind::list:
      return "a comma-separated list of " + detail::join_words(spec.choices);
    case ValueKind::bytes:
      return fmt::format(
          "a size in bytes from {} to {}, as digits or with a KiB, MiB or GiB suffix (e.g. 64MiB)",
          format_number(spec.valid.min), format_number(spec.valid.max));
    case ValueKind::boolean:
      return "true or false (also 1/0, yes/no, on/off)";
    case ValueKind::path:
      return "a file path without control characters";
  }
  return "a valid value";
}

std::optional<std::string> describe_recommended(const SettingSpec& spec) {
  if (!spec.recommended) return std::nullopt;
  return fmt::format("{}–{}", detail::format_number(spec.recommended->min),
                     detail::format_number(spec.recommended->max));
}

}  // namespace poolkit
