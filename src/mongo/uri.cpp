// MONGODB_URL + MONGODB_* variables → the mongoc_uri_t every pooled client is created from.
//
// A variable always wins over the same option written in MONGODB_URL: the variables are what a
// deployment tunes, and they always have a value (the default of docs/configuration.md when unset).
// A URL option that disagrees is dropped with a warning naming the variable to set instead. Pool
// options (maxPoolSize, minPoolSize, waitQueueTimeoutMS, maxIdleTimeMS) never reach libmongoc at
// all: poolkit's pool enforces them, and libmongoc would give minPoolSize another, deprecated
// meaning.

#include <fmt/format.h>

#include <array>
#include <optional>

#include "../core/ascii.hpp"
#include "../core/settings_detail.hpp"
#include "mongo_detail.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::mongo::detail {
namespace {

using poolkit::detail::ascii_lower;
using poolkit::detail::equals_ignoring_case;

struct OwnedOption {
  std::string_view key;       // as libmongoc spells it
  std::string_view variable;  // the MONGODB_* variable that decides it
  std::int64_t value;
  bool driver;  // passed to libmongoc (else enforced by poolkit's pool)
};

std::array<OwnedOption, 8> owned_options(const MongoSettings& s) {
  return {{
      {"maxPoolSize", setting::kMongodbMaxPoolSize, static_cast<std::int64_t>(s.max_pool_size),
       false},
      {"minPoolSize", setting::kMongodbMinPoolSize, static_cast<std::int64_t>(s.min_pool_size),
       false},
      {"waitQueueTimeoutMS", setting::kMongodbWaitQueueTimeoutMs, s.wait_queue_timeout.count(),
       false},
      {"maxIdleTimeMS", setting::kMongodbMaxIdleTimeMs, s.max_idle_time.count(), false},
      {"serverSelectionTimeoutMS", setting::kMongodbServerSelectionTimeoutMs,
       s.server_selection_timeout.count(), true},
      {"socketTimeoutMS", setting::kMongodbSocketTimeoutMs, s.socket_timeout.count(), true},
      {"connectTimeoutMS", setting::kMongodbConnectTimeoutMs, s.connect_timeout.count(), true},
      {"heartbeatFrequencyMS", setting::kMongodbHeartbeatFrequencyMs, s.heartbeat_frequency.count(),
       true},
  }};
}

const OwnedOption* find_owned(std::span<const OwnedOption> options, std::string_view key) {
  for (const OwnedOption& option : options) {
    if (equals_ignoring_case(option.key, key)) return &option;
  }
  return nullptr;
}

// The URL text without the query parameters whose (raw) key matches `drop`.
template <class Drop>
std::string without_params(std::string_view text, Drop drop) {
  // The query starts at the first '?': parse_url accepted the text, so no '?' is in the user
  // info (an '@' may well be in the query).
  const auto query_start = text.find('?');
  if (query_start == std::string_view::npos) return std::string(text);
  std::string result(text.substr(0, query_start));
  std::string_view query = text.substr(query_start + 1);
  char separator = '?';
  while (!query.empty()) {
    const auto end = query.find('&');
    const std::string_view param = query.substr(0, end);
    query = end == std::string_view::npos ? std::string_view{} : query.substr(end + 1);
    if (param.empty() || drop(param.substr(0, param.find('=')))) continue;
    result += separator;
    result += param;
    separator = '&';
  }
  return result;
}

// libmongoc may quote an option's value in its message: the password and secret option values
// are masked, and the message is cut to a length fit for one line.
std::string safe_libmongoc_message(std::string message, const Url& url) {
  message = url.scrub(std::move(message));
  constexpr std::size_t kMaxMessageBytes = 200;
  if (message.size() > kMaxMessageBytes) {
    message = poolkit::shorten_value(message);
  }
  return message;
}

class UriBuilder {
 public:
  explicit UriBuilder(const MongoSettings& settings) : settings_(settings) {
    if (!settings.url) {
      throw ConfigError(
          fmt::format("{} is not set, so the MongoDB layer is disabled; set it to "
                      "mongodb://[user:password@]host:27017/db to use mongo::Client",
                      setting::kMongodbUrl));
    }
  }

  BuiltUri build() {
    // Settings validation judged the URL already; settings built in code are judged here.
    if (const std::string problem = poolkit::detail::mongo_url_problem(url()); !problem.empty()) {
      throw ConfigError(fmt::format("{} ({}): {}", setting::kMongodbUrl,
                                    shorten_value(url().redacted()), problem));
    }
    warn_about_overridden_options();
    parse();
    check_tls();
    set_owned_driver_options();
    set_defaults_unless_given();
    set_appname();
    set_compressors();
    return {std::move(uri_), std::move(warnings_)};
  }

 private:
  const Url& url() const { return *settings_.url; }

  void warn_about_overridden_options() {
    const auto options = owned_options(settings_);
    for (const UrlQueryParam& param : url().query) {
      const OwnedOption* owned = find_owned(options, param.key);
      if (owned == nullptr || param.value == std::to_string(owned->value)) continue;
      warnings_.push_back(fmt::format(
          "{} sets {}={}, but {} ({}) decides it: the URL option is ignored; set {} instead",
          setting::kMongodbUrl, param.key, shorten_value(param.value), owned->variable,
          owned->value, owned->variable));
    }
  }

  void parse() {
    const auto options = owned_options(settings_);
    const std::string text = without_params(
        url().text, [&](std::string_view key) { return find_owned(options, key) != nullptr; });
    bson_error_t error;
    uri_.reset(mongoc_uri_new_with_error(text.c_str(), &error));
    if (!uri_) {
      throw ConfigError(fmt::format("libmongoc refuses {} ({}): {}", setting::kMongodbUrl,
                                    url().redacted(),
                                    safe_libmongoc_message(error.message, url())));
    }
  }

  // Files libmongoc would only log about, failing every connection: refused now. And the
  // options that turn verification off, warned about.
  void check_tls() {
    if (const std::string problem = uri_tls_file_problem(uri_.get()); !problem.empty()) {
      throw ConfigError(fmt::format("{} ({}): {}", setting::kMongodbUrl,
                                    shorten_value(url().redacted()), problem));
    }
    for (std::string& warning : uri_tls_warnings(uri_.get()))
      warnings_.push_back(std::move(warning));
  }

  void set_owned_driver_options() {
    for (const OwnedOption& option : owned_options(settings_)) {
      if (!option.driver) continue;
      const std::string key(option.key);
      if (option.value > INT32_MAX ||
          !mongoc_uri_set_option_as_int32(uri_.get(), key.c_str(),
                                          static_cast<std::int32_t>(option.value))) {
        throw ConfigError(fmt::format("libmongoc refuses {}={} (from {})", option.key, option.value,
                                      option.variable));
      }
    }
  }

  // Retryable reads and writes are on (docs/mongo.md, Settings). With serverSelectionTryOnce off, a
  // single-threaded client waits up to serverSelectionTimeoutMS for a server (as CMAP drivers do)
  // instead of failing after one scan. The URL may still set any of them.
  void set_defaults_unless_given() {
    for (const char* key : {MONGOC_URI_RETRYREADS, MONGOC_URI_RETRYWRITES}) {
      if (!url().query_value(key)) mongoc_uri_set_option_as_bool(uri_.get(), key, true);
    }
    if (!url().query_value(MONGOC_URI_SERVERSELECTIONTRYONCE)) {
      mongoc_uri_set_option_as_bool(uri_.get(), MONGOC_URI_SERVERSELECTIONTRYONCE, false);
    }
  }

  void set_appname() {
    if (!settings_.appname) return;
    warn_if_url_differs(MONGOC_URI_APPNAME, *settings_.appname, setting::kMongodbAppname);
    if (!mongoc_uri_set_appname(uri_.get(), settings_.appname->c_str())) {
      throw ConfigError(
          fmt::format("libmongoc refuses {} '{}': it must be valid UTF-8 of at most 128 bytes",
                      setting::kMongodbAppname, *settings_.appname));
    }
  }

  void set_compressors() {
    if (settings_.compressors.empty()) return;
    const std::string list = fmt::format("{}", fmt::join(settings_.compressors, ","));
    warn_if_url_differs(MONGOC_URI_COMPRESSORS, list, setting::kMongodbCompressors);
    mongoc_uri_set_compressors(uri_.get(), list.c_str());
    const bson_t* accepted = mongoc_uri_get_compressors(uri_.get());
    for (const std::string& name : settings_.compressors) {
      if (!bson_has_field(accepted, name.c_str())) {
        warnings_.push_back(fmt::format(
            "{} names {}, but this libmongoc was built without it: it is not offered to the "
            "server",
            setting::kMongodbCompressors, name));
      }
    }
  }

  void warn_if_url_differs(std::string_view key, std::string_view value,
                           std::string_view variable) {
    const auto given = url().query_value(key);
    if (!given || *given == value) return;
    warnings_.push_back(fmt::format("{} sets {}={}, but {} ({}) wins: the URL option is ignored",
                                    setting::kMongodbUrl, key, shorten_value(*given), variable,
                                    value));
  }

  const MongoSettings& settings_;
  UriPtr uri_;
  std::vector<std::string> warnings_;
};

}  // namespace

BuiltUri build_uri(const MongoSettings& settings) {
  return UriBuilder(settings).build();
}

}  // namespace poolkit::mongo::detail

namespace poolkit::detail {

std::string mongo_driver_url_problem(const Url& url) {
  // The whole URL, pool options included: poolkit enforces those itself, but a value libmongoc
  // cannot read (maxPoolSize=abc) is as wrong in MONGODB_URL as anywhere.
  mongo::detail::ensure_mongoc_initialized();
  bson_error_t error;
  mongo::detail::UriPtr uri(mongoc_uri_new_with_error(url.text.c_str(), &error));
  if (!uri) {
    return "libmongoc refuses it: " + mongo::detail::safe_libmongoc_message(error.message, url);
  }
  return {};
}

MongoUrlTlsReview mongo_driver_url_tls_review(const Url& url) {
  mongo::detail::ensure_mongoc_initialized();
  bson_error_t error;
  mongo::detail::UriPtr uri(mongoc_uri_new_with_error(url.text.c_str(), &error));
  if (!uri) return {};  // mongo_driver_url_problem says why
  // The paths as libmongoc decoded them: what it would open.
  return {.file_problem = mongo::detail::uri_tls_file_problem(uri.get()),
          .warnings = mongo::detail::uri_tls_warnings(uri.get())};
}

}  // namespace poolkit::detail
