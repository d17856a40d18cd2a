// Where each value comes from (environment > dotenv file > profile > default), and every check
// that needs more than one value: ranges against the profile, orderings between variables,
// forbidden and misspelled names.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>

#include "ascii.hpp"
#include "poolkit/dotenv.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"
#include "settings_detail.hpp"
#include "tls_support.hpp"

namespace poolkit {
namespace {

using detail::SettingValue;

constexpr std::string_view kProfileVariable = setting::kPoolkitProfile;
constexpr std::string_view kMetricsAddressVariable = setting::kPoolkitMetricsAddr;

// Addresses that bind every interface: IPv4's and IPv6's unspecified address in any spelling.
bool is_wildcard_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    return !host.empty() && host.find_first_not_of("0:") == std::string_view::npos;
  }
  if (host.empty() || host.find_first_not_of("0.") != std::string_view::npos) return false;
  return std::count(host.begin(), host.end(), '.') <= 3 && host.find_first_of('0') == 0;
}
constexpr const char* kDefaultEnvFile = "./.env";

// Names other software (or habit) uses for a poolkit variable. Edit distance does not catch
// them: MONGO_URL is three edits from MONGODB_URL, REQUEST_TIMEOUT has another first word.
struct KnownAlias {
  std::string_view alias;  // upper case
  std::string_view meant;
  std::string_view note = {};        // added to the suggestion
  bool only_when_unset = false;      // common for other software: only worth a word when `meant`
                                     // is not set either
  std::string_view or_instead = {};  // another variable it may mean: "(or X for ...)"
  std::string_view or_for = {};      // what that other variable is for
};

constexpr std::array kKnownAliases{
    KnownAlias{"MONGO_URL", setting::kMongodbUrl},
    KnownAlias{"MONGO_URI", setting::kMongodbUrl},
    KnownAlias{"MONGODB_URI", setting::kMongodbUrl},
    KnownAlias{"MONGO_CONNECTION_STRING", setting::kMongodbUrl},
    KnownAlias{"MONGODB_CONNECTION_STRING", setting::kMongodbUrl},
    KnownAlias{"MONGO_HOST", setting::kMongodbUrl, " (mongodb://host:27017/db)", true},
    KnownAlias{"MONGODB_HOST", setting::kMongodbUrl, " (mongodb://host:27017/db)", true},
    KnownAlias{"MONGO_POOL_SIZE", setting::kMongodbMaxPoolSize},
    KnownAlias{"MONGODB_POOL_SIZE", setting::kMongodbMaxPoolSize},
    KnownAlias{"MONGO_MAX_POOL_SIZE", setting::kMongodbMaxPoolSize},
    KnownAlias{.alias = "MONGODB_TIMEOUT",
               .meant = setting::kMongodbServerSelectionTimeoutMs,
               .or_instead = setting::kMongodbSocketTimeoutMs,
               .or_for = "one operation"},
    KnownAlias{.alias = "MONGO_TIMEOUT",
               .meant = setting::kMongodbServerSelectionTimeoutMs,
               .or_instead = setting::kMongodbSocketTimeoutMs,
               .or_for = "one operation"},
    KnownAlias{"REDIS_URI", setting::kRedisUrl},
    KnownAlias{"REDIS_CONNECTION_STRING", setting::kRedisUrl},
    KnownAlias{"REDIS_HOST", setting::kRedisUrl, " (redis://host:6379/0)", true},
    KnownAlias{"REDIS_PORT", setting::kRedisUrl, " (redis://host:6379/0)", true},
    KnownAlias{"REDIS_DB", setting::kRedisUrl, " (the database is its path: redis://host:6379/0)",
               true},
    KnownAlias{"REDIS_TIMEOUT", setting::kRedisSocketTimeout},
    KnownAlias{"REDIS_POOL_SIZE", setting::kRedisMaxConnections},
    KnownAlias{"REDIS_MAX_POOL_SIZE", setting::kRedisMaxConnections},
    KnownAlias{"REDIS_POOL_MAX_SIZE", setting::kRedisMaxConnections},
    KnownAlias{"REQUEST_TIMEOUT", setting::kRequestsTimeout},
    KnownAlias{.alias = "HTTP_TIMEOUT",
               .meant = setting::kRequestsTimeout,
               .or_instead = setting::kAiohttpTimeoutTotal,
               .or_for = "async HTTP"},
    KnownAlias{"REQUESTS_POOL_SIZE", setting::kRequestsPoolMaxsize},
    KnownAlias{"REQUESTS_MAX_RETRIES", setting::kRequestsRetries},
    KnownAlias{"AIOHTTP_TIMEOUT", setting::kAiohttpTimeoutTotal},
    KnownAlias{"AIOHTTP_LIMIT", setting::kAiohttpPoolLimit},
    KnownAlias{"AIOHTTP_POOL_SIZE", setting::kAiohttpPoolLimit},
    KnownAlias{"METRICS_ADDR", setting::kPoolkitMetricsAddr},
};

const KnownAlias* known_alias(std::string_view name) {
  const std::string upper = detail::ascii_upper(name);
  for (const KnownAlias& alias : kKnownAliases) {
    if (alias.alias == upper) return &alias;
  }
  return nullptr;
}

// Beyond this many warnings (or errors) one more line counts the rest: a hostile environment
// or dotenv file must not turn into megabytes of messages.
constexpr std::size_t kMaxListedProblems = 50;

// A raw value and where it was found.
struct Found {
  std::string text;
  Source source;
};

// Words for a message: "(set in the environment)", "(set in .env:3)", ...
std::string where(const Source& source) {
  switch (source.kind) {
    case SourceKind::option:
      return "(given as an option)";
    case SourceKind::environment:
      if (!source.detail.empty())
        return fmt::format("(read from {} in the environment)", source.detail);
      return "(set in the environment)";
    case SourceKind::dotenv:
      return fmt::format("(set in {})", source.detail);
    case SourceKind::profile:
      return fmt::format("(from profile {})", source.detail);
    case SourceKind::default_value:
      return "(the built-in default)";
    case SourceKind::unset:
      return "(unset)";
  }
  return {};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1);
  std::vector<std::size_t> current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

std::string_view first_word(std::string_view name) {
  return name.substr(0, name.find('_'));
}

// The table variable a stray name most likely meant: same first word (MONGODB, REDIS, ...) and
// at most two edits away once upper-cased. Other variables are none of our business.
const SettingSpec* likely_meant(std::string_view name) {
  constexpr std::size_t kMaxEdits = 2;
  const std::string upper = detail::ascii_upper(name);
  const SettingSpec* best = nullptr;
  std::size_t best_distance = kMaxEdits + 1;
  for (const SettingSpec& spec : setting_specs()) {
    const std::size_t length_difference = upper.size() > spec.name.size()
                                              ? upper.size() - spec.name.size()
                                              : spec.name.size() - upper.size();
    if (length_difference > kMaxEdits || first_word(spec.name) != first_word(upper)) continue;
    const std::size_t distance = edit_distance(upper, spec.name);
    if (distance < best_distance) {
      best = &spec;
      best_distance = distance;
    }
  }
  return best;
}

class Loader {
 public:
  explicit Loader(const LoadOptions& options)
      : options_(options),
        environment_(options.environment ? *options.environment : process_environment()) {}

  LoadResult run() {
    read_env_file();
    const auto specs = setting_specs();
    result_.entries.resize(specs.size());
    const auto profile_index =
        static_cast<std::size_t>(find_setting_spec(kProfileVariable) - specs.data());
    load_entry(profile_index);  // first: every other variable may take its value from it
    result_.profile = active_profile();
    for (std::size_t i = 0; i < specs.size(); ++i) {
      if (i != profile_index) load_entry(i);
    }
    check_orderings();
    check_tls_files();
    warn_about_verification_off();
    check_metrics_exposure();
    check_redis_topology();
    check_mongodb_url();
    check_given_names();
    count_unlisted(result_.errors, unlisted_errors_, "error");
    count_unlisted(result_.warnings, unlisted_warnings_, "warning");
    if (result_.ok()) {
      result_.settings = detail::build_settings(values_, result_.profile);
      name_ca_fallback(*result_.settings);
    }
    return std::move(result_);
  }

 private:
  void read_env_file() {
    std::filesystem::path path;
    if (options_.env_file) {
      path = *options_.env_file;
    } else if (options_.discover_env_file && std::filesystem::exists(kDefaultEnvFile)) {
      path = kDefaultEnvFile;
    } else {
      return;
    }
    dotenv_ = read_dotenv_file(path);
    result_.env_file = path;
    for (const DotenvError& problem : dotenv_->errors) {
      result_.errors.push_back({path.string(), problem.message});
    }
    warn_about_duplicates();
  }

  void warn_about_duplicates() {
    std::map<std::string_view, std::vector<int>> lines_by_name;
    for (const DotenvVariable& variable : dotenv_->variables) {
      lines_by_name[variable.name].push_back(variable.line);
    }
    for (const auto& [name, lines] : lines_by_name) {
      if (lines.size() < 2) continue;
      constexpr std::size_t kListedLines = 10;
      const std::size_t listed = std::min(lines.size(), kListedLines);
      warn(shorten_value(name),
           fmt::format("{} is set {} times in {} (lines {}{}); the last one counts",
                       shorten_value(name), lines.size(), dotenv_->path.string(),
                       fmt::join(lines.begin(), lines.begin() + listed, ", "),
                       listed < lines.size() ? ", …" : ""));
    }
  }

  std::optional<Found> find_given(std::string_view name) const {
    if (const auto it = environment_.find(name); it != environment_.end()) {
      return Found{it->second, {SourceKind::environment, {}}};
    }
    if (const DotenvVariable* variable = dotenv_ ? dotenv_->find(name) : nullptr) {
      const std::string location = fmt::format("{}:{}", dotenv_->path.string(), variable->line);
      return Found{variable->value, {SourceKind::dotenv, location}};
    }
    return std::nullopt;
  }

  std::optional<Found> find_value(const SettingSpec& spec) const {
    if (spec.name == kProfileVariable && options_.profile) {
      return Found{*options_.profile, {SourceKind::option, {}}};
    }
    if (auto given = find_given(spec.name)) return given;
    for (const std::string_view fallback : spec.fallbacks) {
      auto given = find_given(fallback);
      if (!given || given->text.empty()) continue;
      given->source.detail = given->source.kind == SourceKind::environment
                                 ? std::string(fallback)
                                 : fmt::format("{} as {}", given->source.detail, fallback);
      return given;
    }
    if (result_.profile) {
      const std::string_view profiled = spec.profile_values[*result_.profile];
      if (!profiled.empty()) {
        return Found{std::string(profiled),
                     {SourceKind::profile, std::string(to_string(*result_.profile))}};
      }
    }
    if (!spec.default_value) return std::nullopt;
    return Found{std::string(*spec.default_value), {SourceKind::default_value, {}}};
  }

  std::optional<Profile> active_profile() const {
    const auto value = values_.find(kProfileVariable);
    if (value == values_.end()) return std::nullopt;
    return parse_profile(std::get<std::string>(value->second));
  }

  void load_entry(std::size_t index) {
    const SettingSpec& spec = setting_specs()[index];
    SettingEntry& entry = result_.entries[index];
    entry.spec = &spec;
    auto found = find_value(spec);
    if (!found) return;  // the entry stays unset
    entry.display = detail::display_text(spec, found->text);
    entry.raw = std::move(found->text);
    entry.source = std::move(found->source);
    detail::ParsedSetting parsed = detail::parse_setting(spec, *entry.raw);
    if (!parsed.value) {
      reject(entry, parsed.reason);
      return;
    }
    check_recommended(entry, *parsed.value);
    values_.emplace(spec.name, *std::move(parsed.value));
  }

  // NAME="value": expected ...; reason (set in ...)
  void reject(const SettingEntry& entry, std::string_view reason) {
    const SettingSpec& spec = *entry.spec;
    std::string message = fmt::format("{}={}: expected {}", spec.name, quote_value(*entry.display),
                                      describe_expected(spec));
    if (!reason.empty()) message += fmt::format("; {}", reason);
    message += " " + where(entry.source);
    error(spec.name, std::move(message));
  }

  // A value outside the recommended range earns a warning, unless it is what the active profile
  // itself prescribes: dev deliberately runs small pools.
  void check_recommended(const SettingEntry& entry, const SettingValue& value) {
    const SettingSpec& spec = *entry.spec;
    const auto number = detail::numeric_value(spec, value);
    if (!spec.recommended || !number || detail::is_within(*spec.recommended, *number)) return;
    if (matches_profile(spec, *number)) return;
    warn(spec.name, fmt::format("{}={} is outside the recommended range {} {}", spec.name,
                                shorten_value(*entry.display), *describe_recommended(spec),
                                where(entry.source)));
  }

  bool matches_profile(const SettingSpec& spec, double number) const {
    if (!result_.profile) return false;
    const std::string_view profiled = spec.profile_values[*result_.profile];
    if (profiled.empty()) return false;
    const auto parsed = detail::parse_setting(spec, profiled);
    return parsed.value && detail::numeric_value(spec, *parsed.value) == number;
  }

  void check_orderings() {
    for (const detail::OrderingRule& rule : detail::ordering_rules()) {
      const auto lower = numeric(rule.lower);
      const auto upper = numeric(rule.upper);
      if (!lower || !upper || *lower <= *upper) continue;
      std::string message =
          detail::describe_disorder(rule, shorten_value(*result_.find(rule.lower)->display),
                                    shorten_value(*result_.find(rule.upper)->display));
      if (rule.is_error) {
        error(rule.lower, std::move(message));
      } else {
        warn(rule.lower, std::move(message));
      }
    }
  }

  // A certificate, key or CA file that cannot be used fails now, naming the variable and path,
  // rather than at the first handshake.
  void check_tls_files() {
    for (const detail::TlsFileRule& rule : detail::tls_file_rules()) {
      const std::string* path = text_value(rule.setting);
      if (path == nullptr) continue;
      if (auto problem = detail::tls_file_problem(rule.kind, *path)) {
        error(rule.setting,
              fmt::format("{}={}: {}; {} {}", rule.setting, quote_value(*path), *problem,
                          expected_tls_file(rule.kind), where(result_.find(rule.setting)->source)));
      }
    }
    for (const detail::TlsKeyPair& pair : detail::tls_key_pairs()) check_key_pair(pair);
  }

  static std::string_view expected_tls_file(detail::TlsFileKind kind) {
    switch (kind) {
      case detail::TlsFileKind::certificate:
        return "expected a readable PEM file holding a certificate";
      case detail::TlsFileKind::private_key:
        return "expected a readable PEM file holding an unencrypted private key";
      case detail::TlsFileKind::ca_location:
        return "expected a readable PEM file of CA certificates, or a CA directory";
    }
    return "expected a readable PEM file";
  }

  void check_key_pair(const detail::TlsKeyPair& pair) {
    const std::string* cert = text_value(pair.certificate);
    const std::string* key = text_value(pair.key);
    if (key != nullptr && cert == nullptr) {
      error(pair.key, fmt::format("{} is set but {} is not: a private key is only used with its "
                                  "certificate; set {} too",
                                  pair.key, pair.certificate, pair.certificate));
      return;
    }
    if (cert == nullptr || detail::certificate_file_problem(*cert)) return;
    if (key == nullptr) {
      // Without a key file the key is read from the certificate's file.
      if (detail::private_key_file_problem(*cert)) {
        error(pair.certificate,
              fmt::format("{}={} holds no private key and {} is not set; set {} to the "
                          "certificate's key file",
                          pair.certificate, quote_value(*cert), pair.key, pair.key));
      }
      return;
    }
    if (detail::private_key_file_problem(*key)) return;
    if (auto mismatch = detail::key_mismatch_problem(*cert, *key)) {
      error(pair.key, fmt::format("{}={} and {}={}: {}; expected the key of that certificate",
                                  pair.certificate, quote_value(*cert), pair.key, quote_value(*key),
                                  *mismatch));
    }
  }

  // The CA bundle may come from REQUESTS_CA_BUNDLE & co.; errors and `config` name that one.
  void name_ca_fallback(Settings& settings) const {
    const SettingEntry* entry = result_.find(setting::kHttpCaBundle);
    if (entry == nullptr || entry->source.kind != SourceKind::environment ||
        entry->source.detail.empty())
      return;
    settings.http_async.tls.ca_source = entry->source.detail;
    settings.http_sync.tls.ca_source = entry->source.detail;
  }

  // Turning certificate checks off is allowed, and said out loud on every run.
  void warn_about_verification_off() {
    for (const detail::VerificationSwitch& toggle : detail::verification_switches()) {
      const SettingEntry* entry = result_.find(toggle.setting);
      const auto value = values_.find(toggle.setting);
      if (value == values_.end()) continue;
      const auto* flag = std::get_if<std::int64_t>(&value->second);
      const auto* word = std::get_if<std::string>(&value->second);
      const bool off = (flag != nullptr && toggle.off == "false" && *flag == 0) ||
                       (word != nullptr && *word == toggle.off);
      if (!off) continue;
      warn(toggle.setting,
           fmt::format("{}={}: certificate verification is off: {}. Use it only for testing {}",
                       toggle.setting, shorten_value(*entry->display), toggle.consequence,
                       where(entry->source)));
    }
    warn_about_verification_off_in_redis_url();
  }

  // The same switches as query options of a rediss:// URL (redis-py's from_url names), which
  // win over the variables.
  void warn_about_verification_off_in_redis_url() {
    const auto value = values_.find(setting::kRedisUrl);
    const Url* url = value == values_.end() ? nullptr : std::get_if<Url>(&value->second);
    if (url == nullptr) return;
    const detail::RedisUrlTls tls = detail::redis_url_tls(*url);
    const SettingEntry* entry = result_.find(setting::kRedisUrl);
    const std::string source = entry != nullptr ? where(entry->source) : std::string();
    if (tls.verify_peer == false) {
      warn(setting::kRedisUrl,
           fmt::format("{} has ssl_cert_reqs=none: certificate verification is off: Redis "
                       "accepts any server certificate: anyone on the path can read and change "
                       "the traffic. Use it only for testing {}",
                       setting::kRedisUrl, source));
    } else if (tls.check_hostname == false) {
      warn(setting::kRedisUrl,
           fmt::format("{} has ssl_check_hostname=false: certificate verification is off: Redis "
                       "accepts a certificate issued for any other name. Use it only for "
                       "testing {}",
                       setting::kRedisUrl, source));
    }
  }

  const std::string* text_value(std::string_view name) const {
    const auto value = values_.find(name);
    if (value == values_.end()) return nullptr;
    return std::get_if<std::string>(&value->second);
  }

  // SPEC §4: REDIS_URL's hosts must suit REDIS_MODE, and sentinel mode needs the master's name.
  void check_redis_topology() {
    const std::string* mode_word = text_value(setting::kRedisMode);
    const RedisMode mode = mode_word == nullptr || *mode_word == "standalone"
                               ? RedisMode::standalone
                           : *mode_word == "cluster" ? RedisMode::cluster
                                                     : RedisMode::sentinel;
    if (const auto url = values_.find(setting::kRedisUrl); url != values_.end()) {
      if (const Url* parsed = std::get_if<Url>(&url->second)) {
        if (std::string problem = detail::redis_hosts_problem(*parsed, mode); !problem.empty()) {
          error(setting::kRedisUrl,
                fmt::format("{} ({}): {}", setting::kRedisUrl,
                            shorten_value(*result_.find(setting::kRedisUrl)->display), problem));
        }
      }
    }
    if (mode == RedisMode::sentinel && text_value(setting::kRedisSentinelMaster) == nullptr) {
      error(setting::kRedisSentinelMaster,
            fmt::format("{}=sentinel needs {}, the name the sentinels monitor the master under "
                        "(e.g. mymaster)",
                        setting::kRedisMode, setting::kRedisSentinelMaster));
    }
  }

  // A wildcard address serves /metrics and /healthz to every network the host is on.
  void check_metrics_exposure() {
    const SettingEntry* entry = result_.find(kMetricsAddressVariable);
    if (!values_.contains(kMetricsAddressVariable)) return;
    const std::string_view address = *entry->raw;
    const std::string_view host = address.substr(0, address.rfind(':'));
    if (!is_wildcard_host(host)) return;
    warn(kMetricsAddressVariable,
         fmt::format("{}={} listens on all interfaces: /metrics and /healthz (pool state, server "
                     "addresses, error counts) are reachable from other machines. Use "
                     "127.0.0.1:PORT unless scrapers run elsewhere, and then limit who can reach "
                     "the port {}",
                     kMetricsAddressVariable, shorten_value(address), where(entry->source)));
  }

  // An accepted MONGODB_URL may name a TLS file that cannot be used (an error, as for the TLS
  // variables), or turn verification off (said on every run).
  void check_mongodb_url() {
    const auto value = values_.find(setting::kMongodbUrl);
    if (value == values_.end()) return;
    const SettingEntry* entry = result_.find(setting::kMongodbUrl);
    const detail::MongoUrlTlsReview review =
        detail::mongo_url_tls_review(std::get<Url>(value->second));
    if (!review.file_problem.empty()) {
      error(setting::kMongodbUrl,
            fmt::format("{}={}: {} {}", setting::kMongodbUrl, quote_value(*entry->display),
                        review.file_problem, where(entry->source)));
    }
    for (const std::string& warning : review.warnings) {
      warn(setting::kMongodbUrl, fmt::format("{} {}", warning, where(entry->source)));
    }
  }

  std::optional<double> numeric(std::string_view name) const {
    const auto value = values_.find(name);
    if (value == values_.end()) return std::nullopt;
    return detail::numeric_value(*find_setting_spec(name), value->second);
  }

  // Names set in the environment or the dotenv file that are not in the table: a forbidden
  // option is an error, a likely typo a warning. Values are never shown: they are not ours.
  void check_given_names() {
    for (const auto& [name, value] : environment_) check_given_name(name);
    if (!dotenv_) return;
    for (const DotenvVariable& variable : dotenv_->variables) {
      const bool first_definition = dotenv_->find(variable.name) == &variable;
      if (first_definition && !environment_.contains(variable.name))
        check_given_name(variable.name);
    }
  }

  // Names are shown shortened too: an environment may hold a name of any length.
  void check_given_name(std::string_view name) {
    if (find_setting_spec(name)) return;
    const auto found = find_given(name);
    const std::string shown = shorten_value(name);
    if (detail::names_wait_queue_multiple(name)) {
      error(shown, fmt::format("{} is set, but {} {}", shown, detail::wait_queue_multiple_advice(),
                               where(found->source)));
      return;
    }
    if (const KnownAlias* alias = known_alias(name)) {
      if (alias->only_when_unset && find_given(alias->meant)) return;
      const std::string or_instead =
          alias->or_instead.empty()
              ? std::string()
              : fmt::format(" (or {} for {})", alias->or_instead, alias->or_for);
      warn(shown,
           fmt::format("{} is not a poolkit variable and is ignored; did you mean {}{}{}? {}",
                       shown, alias->meant, alias->note, or_instead, where(found->source)));
      return;
    }
    if (const SettingSpec* meant = likely_meant(name)) {
      warn(shown, fmt::format("{} is not a poolkit variable and is ignored; did you mean {}? {}",
                              shown, meant->name, where(found->source)));
    }
  }

  void error(std::string_view name, std::string message) {
    add_problem(result_.errors, unlisted_errors_, name, std::move(message));
  }

  void warn(std::string_view name, std::string message) {
    add_problem(result_.warnings, unlisted_warnings_, name, std::move(message));
  }

  static void add_problem(std::vector<SettingProblem>& problems, std::size_t& unlisted,
                          std::string_view name, std::string message) {
    if (problems.size() < kMaxListedProblems) {
      problems.push_back({std::string(name), std::move(message)});
    } else {
      ++unlisted;
    }
  }

  // The line that stands for every problem past kMaxListedProblems.
  static void count_unlisted(std::vector<SettingProblem>& problems, std::size_t unlisted,
                             std::string_view kind) {
    if (unlisted == 0) return;
    problems.push_back({"", fmt::format("and {} more {}{}, not listed one by one", unlisted, kind,
                                        unlisted == 1 ? "" : "s")});
  }

  std::size_t unlisted_errors_ = 0;
  std::size_t unlisted_warnings_ = 0;
  const LoadOptions& options_;
  Environment environment_;
  std::optional<DotenvFile> dotenv_;
  detail::ValueMap values_;
  LoadResult result_;
};

std::string list_errors(const std::vector<SettingProblem>& errors) {
  std::string text = fmt::format("invalid poolkit configuration ({} error{}):", errors.size(),
                                 errors.size() == 1 ? "" : "s");
  for (const SettingProblem& problem : errors) text += "\n  - " + problem.message;
  return text;
}

}  // namespace

Environment process_environment() {
  Environment environment;
  for (char** variable = ::environ; variable && *variable; ++variable) {
    const std::string_view entry(*variable);
    const auto equals = entry.find('=');
    if (equals == std::string_view::npos) continue;
    environment.emplace(entry.substr(0, equals), entry.substr(equals + 1));
  }
  return environment;
}

std::optional<std::string> detail::tls_file_problem(TlsFileKind kind, const std::string& path) {
  switch (kind) {
    case TlsFileKind::certificate:
      return certificate_file_problem(path);
    case TlsFileKind::private_key:
      return private_key_file_problem(path);
    case TlsFileKind::ca_location:
      return ca_location_problem(path);
  }
  return std::nullopt;
}

std::string Source::to_string() const {
  switch (kind) {
    case SourceKind::option:
      return "option";
    case SourceKind::environment:
      return detail.empty() ? "env" : "env:" + detail;
    case SourceKind::dotenv:
      return detail;
    case SourceKind::profile:
      return "profile:" + detail;
    case SourceKind::default_value:
      return "default";
    case SourceKind::unset:
      return "unset";
  }
  return "unknown";
}

const SettingEntry* LoadResult::find(std::string_view name) const noexcept {
  const auto match = std::find_if(
      entries.begin(), entries.end(),
      [name](const SettingEntry& entry) { return entry.spec && entry.spec->name == name; });
  return match == entries.end() ? nullptr : &*match;
}

LoadResult load_settings(const LoadOptions& options) {
  return Loader(options).run();
}

Settings Settings::from_environment(const LoadOptions& options) {
  LoadResult result = load_settings(options);
  if (!result.ok()) throw ConfigError(list_errors(result.errors));
  return *std::move(result.settings);
}

Settings Settings::defaults() {
  LoadOptions options;
  options.discover_env_file = false;
  options.environment = Environment{};
  return from_environment(options);
}

}  // namespace poolkit
