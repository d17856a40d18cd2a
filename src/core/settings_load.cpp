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
#include "settings_detail.hpp"

namespace poolkit {
namespace {

using detail::SettingValue;

constexpr std::string_view kProfileVariable = "POOLKIT_PROFILE";
constexpr const char* kDefaultEnvFile = "./.env";

// Two variables whose values must be ordered, e.g. a minimum and its maximum.
struct OrderingRule {
  std::string_view lower;
  std::string_view upper;
  bool is_error;  // false: only a warning
  std::string_view consequence;
};

constexpr std::array kOrderingRules{
    OrderingRule{"MONGODB_MIN_POOL_SIZE", "MONGODB_MAX_POOL_SIZE", true,
                 "the minimum must not exceed the maximum"},
    OrderingRule{"HTTP_RESILIENCE_BACKOFF_BASE", "HTTP_RESILIENCE_BACKOFF_MAX", true,
                 "the first backoff must not exceed the cap"},
    OrderingRule{"AIOHTTP_LIMIT_PER_HOST", "AIOHTTP_POOL_LIMIT", false,
                 "the per-host limit can never be reached"},
};

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
    if (first_word(spec.name) != first_word(upper)) continue;
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
    check_given_names();
    if (result_.ok()) result_.settings = detail::build_settings(values_, result_.profile);
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
      warn(name, fmt::format("{} is set {} times in {} (lines {}); the last one counts", name,
                             lines.size(), dotenv_->path.string(), fmt::join(lines, ", ")));
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
    std::string message =
        fmt::format("{}={:?}: expected {}", spec.name, *entry.display, describe_expected(spec));
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
                                *entry.display, *describe_recommended(spec), where(entry.source)));
  }

  bool matches_profile(const SettingSpec& spec, double number) const {
    if (!result_.profile) return false;
    const std::string_view profiled = spec.profile_values[*result_.profile];
    if (profiled.empty()) return false;
    const auto parsed = detail::parse_setting(spec, profiled);
    return parsed.value && detail::numeric_value(spec, *parsed.value) == number;
  }

  void check_orderings() {
    for (const OrderingRule& rule : kOrderingRules) {
      const auto lower = numeric(rule.lower);
      const auto upper = numeric(rule.upper);
      if (!lower || !upper || *lower <= *upper) continue;
      std::string message = fmt::format("{}={} is larger than {}={}: {}", rule.lower,
                                        *result_.find(rule.lower)->display, rule.upper,
                                        *result_.find(rule.upper)->display, rule.consequence);
      if (rule.is_error) {
        error(rule.lower, std::move(message));
      } else {
        warn(rule.lower, std::move(message));
      }
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

  void check_given_name(std::string_view name) {
    if (find_setting_spec(name)) return;
    const auto found = find_given(name);
    if (detail::names_wait_queue_multiple(name)) {
      error(name, fmt::format("{} is set, but {} {}", name, detail::kWaitQueueMultipleAdvice,
                              where(found->source)));
      return;
    }
    if (const SettingSpec* meant = likely_meant(name)) {
      warn(name, fmt::format("{} is not a poolkit variable and is ignored; did you mean {}? {}",
                             name, meant->name, where(found->source)));
    }
  }

  void error(std::string_view name, std::string message) {
    result_.errors.push_back({std::string(name), std::move(message)});
  }

  void warn(std::string_view name, std::string message) {
    result_.warnings.push_back({std::string(name), std::move(message)});
  }

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

std::string Source::to_string() const {
  switch (kind) {
    case SourceKind::option:
      return "option";
    case SourceKind::environment:
      return "env";
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
