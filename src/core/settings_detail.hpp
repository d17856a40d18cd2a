#pragma once
// Internal pieces shared by the settings sources: parsing one value, and turning parsed values
// into the typed Settings.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "poolkit/setting_names.hpp"
#include "poolkit/settings.hpp"

namespace poolkit::detail {

// count → int64_t; milliseconds and seconds → milliseconds; url → Url; text, token and
// choice → string; list → vector<string>.
using SettingValue = std::variant<std::int64_t, std::chrono::milliseconds, std::string,
                                  std::vector<std::string>, Url>;

// Parsed values by variable name (names point into the table, which lives forever).
using ValueMap = std::map<std::string_view, SettingValue, std::less<>>;

struct ParsedSetting {
  std::optional<SettingValue> value;  // nullopt: rejected
  // For a rejection: what is wrong beyond describe_expected(), e.g. "it is empty"; may be
  // empty. Never contains the value itself.
  std::string reason;
};

ParsedSetting parse_setting(const SettingSpec& spec, std::string_view text);

// A numeric value in the unit the variable is written in (seconds for `seconds`), for range
// checks; nullopt for the other kinds.
std::optional<double> numeric_value(const SettingSpec& spec, const SettingValue& value);

bool is_within(const ValueRange& range, double value) noexcept;

// waitQueueMultiple was removed from the MongoDB drivers; accepting it would promise a bound that
// no longer exists. True for any spelling: waitQueueMultiple, MONGODB_WAIT_QUEUE_MULTIPLE, ...
bool names_wait_queue_multiple(std::string_view name);
inline std::string wait_queue_multiple_advice() {
  return "waitQueueMultiple does not exist in modern MongoDB drivers: remove it (" +
         std::string(setting::kMongodbMaxPoolSize) + " bounds the pool, " +
         std::string(setting::kMongodbWaitQueueTimeoutMs) + " bounds the wait)";
}

// The longest unix socket path the system takes: sizeof(sockaddr_un::sun_path) - 1 (107 bytes
// on Linux). A longer path would be cut short by the connect call, not refused.
std::size_t max_socket_path_bytes() noexcept;

// Why poolkit cannot use this URL as REDIS_URL (a database that is not a number, a user without
// a password, a socket path over the system limit, a bad ssl_* option or a TLS file named in one
// that cannot be used), or empty when it can. One
// judgment for settings validation and redis::make_endpoint (settings built in code), so
// config, check, bench and demo refuse the same URLs with the same words. Never quotes a secret.
std::string redis_url_problem(const Url& url);
// Whether REDIS_URL's hosts suit REDIS_MODE: several hosts only in cluster mode (seed nodes) and
// sentinel mode (the sentinels); no unix:// socket there. Empty when they do. A cross-setting
// judgement, made by the settings loader and by clients built from settings in code.
std::string redis_hosts_problem(const Url& url, RedisMode mode);
// The database a Redis URL accepted by redis_url_problem selects: ?db= wins over the path, as
// redis-py does; 0 when neither names one.
int redis_database(const Url& url);

// The TLS options of a rediss:// URL's query, redis-py's from_url names (ssl_ca_certs,
// ssl_certfile, ssl_keyfile, ssl_cert_reqs, ssl_check_hostname); each nullopt when absent. They
// win over the REDIS_SSL_* variables. For a URL redis_url_problem accepted.
struct RedisUrlTls {
  std::optional<std::string> ca_certs;
  std::optional<std::string> certfile;
  std::optional<std::string> keyfile;
  std::optional<bool> verify_peer;  // ssl_cert_reqs: required / optional → true, none → false
  std::optional<bool> check_hostname;
};
RedisUrlTls redis_url_tls(const Url& url);

// The same for MONGODB_URL: waitQueueMultiple, a socket path over the limit, and, when the
// MongoDB layer is linked into the program, whatever libmongoc's own URI parser refuses (an
// option with a bad value such as maxPoolSize=abc). The message is bounded in length and free of
// the password and secret option values.
std::string mongo_url_problem(const Url& url);
// What an accepted MONGODB_URL's TLS options come to, when the MongoDB layer is linked (else
// nothing): a file named in it that cannot be used (an error), verification turned off
// (warnings). Free of secrets.
struct MongoUrlTlsReview {
  std::string file_problem;  // "its tlsCAFile /etc/ca.pem: no such file; ...", or empty
  std::vector<std::string> warnings;
};
MongoUrlTlsReview mongo_url_tls_review(const Url& url);

// What libmongoc's URI parser refuses in the URL, or empty. Defined in src/mongo/uri.cpp;
// core refers to it weakly (settings_parse.cpp), since core must not need libmongoc.
std::string mongo_driver_url_problem(const Url& url);
// The review, as libmongoc reads the URL; also defined in src/mongo/uri.cpp and referred to
// weakly.
MongoUrlTlsReview mongo_driver_url_tls_review(const Url& url);

// Two variables whose values must be ordered, e.g. a minimum and its maximum. ordering_rules()
// is the one list of them, and the one place min <= max is judged: settings validation checks
// loaded values against it, and clients built from settings in code (which skip validation)
// call require_ordered.
struct OrderingRule {
  std::string_view lower;
  std::string_view upper;
  bool is_error;  // false: only a warning
  std::string_view consequence;
};
std::span<const OrderingRule> ordering_rules() noexcept;

// "LOWER=a is larger than UPPER=b: consequence", with the values as they may be shown.
std::string describe_disorder(const OrderingRule& rule, std::string_view lower_shown,
                              std::string_view upper_shown);

// Throws ConfigError (describe_disorder's words) for the first error rule whose two variables
// `value_of` knows and whose values break it; `value_of` returns nullopt for the others.
void require_ordered(const std::function<std::optional<double>(std::string_view name)>& value_of);

// TLS files named by settings, checked for content when settings load (a bad one is an error
// naming the variable and the path), and key files checked against their certificates.
enum class TlsFileKind { certificate, private_key, ca_location };
struct TlsFileRule {
  std::string_view setting;
  TlsFileKind kind;
};
struct TlsKeyPair {
  std::string_view certificate;
  std::string_view key;
};
std::span<const TlsFileRule> tls_file_rules() noexcept;
std::span<const TlsKeyPair> tls_key_pairs() noexcept;
// What is wrong with the file for its kind, or nullopt.
std::optional<std::string> tls_file_problem(TlsFileKind kind, const std::string& path);

// A setting whose value `off` turns a certificate check off: warned about on every load.
struct VerificationSwitch {
  std::string_view setting;
  std::string_view off;
  std::string_view consequence;
};
std::span<const VerificationSwitch> verification_switches() noexcept;

// The value as it may be shown: URLs of secret variables redacted.
std::string display_text(const SettingSpec& spec, std::string_view raw);

// The typed settings from a complete set of valid values. Throws std::logic_error when a value
// the types need is missing, which only a broken table can cause.
Settings build_settings(const ValueMap& values, std::optional<Profile> profile);

}  // namespace poolkit::detail
