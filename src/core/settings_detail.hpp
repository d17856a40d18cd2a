#pragma once
// Internal pieces shared by the settings sources: parsing one value, and turning parsed values
// into the typed Settings.

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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
inline constexpr std::string_view kWaitQueueMultipleAdvice =
    "waitQueueMultiple does not exist in modern MongoDB drivers: remove it "
    "(MONGODB_MAX_POOL_SIZE bounds the pool, MONGODB_WAIT_QUEUE_TIMEOUT_MS bounds the wait)";

// The value as it may be shown: URLs of secret variables redacted.
std::string display_text(const SettingSpec& spec, std::string_view raw);

// The typed settings from a complete set of valid values. Throws std::logic_error when a value
// the types need is missing, which only a broken table can cause.
Settings build_settings(const ValueMap& values, std::optional<Profile> profile);

}  // namespace poolkit::detail
