#include "settings_url.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "poolkit/error.hpp"
#include "settings_detail.hpp"

namespace poolkit::detail {
namespace {

const SettingSpec& url_spec(Layer layer) {
  const auto specs = setting_specs();
  const auto spec = std::find_if(specs.begin(), specs.end(), [&](const SettingSpec& candidate) {
    return candidate.layer == layer && candidate.kind == ValueKind::url;
  });
  if (spec == specs.end()) throw std::logic_error("this layer has no URL setting");
  return *spec;
}

// What load_settings says about this value, with "set in the environment" replaced by where it
// really came from. Asking the loader itself keeps the wording identical by construction.
std::string loader_message(const SettingSpec& spec, std::string_view text) {
  LoadOptions options;
  options.discover_env_file = false;
  options.environment = Environment{{std::string(spec.name), std::string(text)}};
  const LoadResult result = load_settings(options);
  for (const SettingProblem& problem : result.errors) {
    if (problem.name != spec.name) continue;
    std::string message = problem.message;
    constexpr std::string_view kFromEnvironment = " (set in the environment)";
    if (message.ends_with(kFromEnvironment))
      message.resize(message.size() - kFromEnvironment.size());
    return message + " (given to the client's constructor)";
  }
  return fmt::format("{}={}: expected {}", spec.name, display_text(spec, text),
                     describe_expected(spec));
}

}  // namespace

Url parse_layer_url(Layer layer, std::string_view text) {
  const SettingSpec& spec = url_spec(layer);
  ParsedSetting parsed = parse_setting(spec, text);
  if (!parsed.value) throw ConfigError(loader_message(spec, text));
  return std::get<Url>(*std::move(parsed.value));
}

}  // namespace poolkit::detail
