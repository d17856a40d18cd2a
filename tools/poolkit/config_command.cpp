// `poolkit config [--env-file FILE] [--profile NAME] [--json]`: what the configuration resolves
// to. Every variable with its effective value (secrets masked) and where it came from, then
// warnings and errors. Exit status 0 when valid (warnings allowed), 2 when not.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <memory>
#include <nlohmann/json.hpp>
#include <poolkit/settings.hpp>

#include "commands.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::cli {
namespace {

constexpr std::string_view kRuleOfThumb =
    "Rule of thumb: pool size ≈ the peak concurrency you want for that backend, plus about 20% "
    "for bursts.";

struct ConfigArguments {
  std::string env_file;
  std::string profile;
  bool json = false;
  bool markdown = false;
  const CLI::Option* env_file_option = nullptr;
  const CLI::Option* profile_option = nullptr;
};

LoadOptions load_options(const ConfigArguments& arguments) {
  LoadOptions options;
  if (arguments.env_file_option->count() > 0) options.env_file = arguments.env_file;
  if (arguments.profile_option->count() > 0) options.profile = arguments.profile;
  return options;
}

// ----- text -----------------------------------------------------------------------------------

// A value as it goes into the table: shortened past kShownValueBytes, control characters
// escaped so one value stays one cell.
std::string printable(const std::optional<std::string>& value) {
  if (!value) return "(unset)";
  const bool has_control = std::any_of(value->begin(), value->end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
  });
  return has_control ? quote_value(*value) : shorten_value(*value);
}

// No column is padded wider than this, whatever a value holds: a long value ends its row's
// alignment instead of widening every row.
constexpr std::size_t kMaxColumnWidth = 64;

struct ColumnWidths {
  std::size_t name = 8;  // "VARIABLE"
  std::size_t value = 5;
  std::size_t type = 4;
  std::size_t source = 6;
};

ColumnWidths measure(const LoadResult& result) {
  const auto widen = [](std::size_t& width, std::size_t length) {
    width = std::max(width, std::min(length, kMaxColumnWidth));
  };
  ColumnWidths widths;
  for (const SettingEntry& entry : result.entries) {
    widen(widths.name, entry.spec->name.size());
    widen(widths.value, printable(entry.display).size());
    widen(widths.type, to_string(entry.spec->kind).size());
    widen(widths.source, entry.source.to_string().size());
  }
  return widths;
}

struct Row {
  std::string_view name;
  std::string_view value;
  std::string_view type;
  std::string_view source;
  std::string_view recommended;
};

void print_row(const ColumnWidths& widths, const Row& row) {
  const std::string line =
      fmt::format("  {:<{}}  {:<{}}  {:<{}}  {:<{}}  {}", row.name, widths.name, row.value,
                  widths.value, row.type, widths.type, row.source, widths.source, row.recommended);
  fmt::print("{}\n", std::string_view(line).substr(0, line.find_last_not_of(' ') + 1));
}

void print_table(const LoadResult& result) {
  const ColumnWidths widths = measure(result);
  print_row(widths, {"VARIABLE", "VALUE", "TYPE", "SOURCE", "RECOMMENDED"});
  std::optional<Layer> current_layer;
  for (const SettingEntry& entry : result.entries) {
    if (entry.spec->layer != current_layer) {
      current_layer = entry.spec->layer;
      fmt::print("{}\n", to_string(*current_layer));
    }
    const std::string value = printable(entry.display);
    const std::string source = entry.source.to_string();
    const std::string recommended = describe_recommended(*entry.spec).value_or("");
    print_row(widths, {entry.spec->name, value, to_string(entry.spec->kind), source, recommended});
  }
}

std::string profile_line(const LoadResult& result) {
  const SettingEntry* entry = result.find(setting::kPoolkitProfile);
  if (result.profile) {
    return fmt::format("profile: {} ({})", to_string(*result.profile), entry->source.to_string());
  }
  if (entry->display) return "profile: invalid (see errors)";
  return fmt::format("profile: none ({} is unset: built-in defaults apply)",
                     setting::kPoolkitProfile);
}

void print_problems(std::string_view title, const std::vector<SettingProblem>& problems) {
  if (problems.empty()) return;
  fmt::print("\n{} ({}):\n", title, problems.size());
  for (const SettingProblem& problem : problems) fmt::print("  - {}\n", problem.message);
}

void print_text(const LoadResult& result) {
  if (result.env_file) {
    fmt::print("reading {}\n", result.env_file->string());
  } else {
    fmt::print("no ./.env found: using the environment, the profile and the built-in defaults\n");
  }
  fmt::print("{}\n\n", profile_line(result));
  print_table(result);
  fmt::print("\n{}\n", kRuleOfThumb);
  print_problems("warnings", result.warnings);
  print_problems("errors", result.errors);
  fmt::print("\n{}\n",
             result.ok() ? "configuration is valid"
                         : fmt::format("configuration is invalid: {} error{}", result.errors.size(),
                                       result.errors.size() == 1 ? "" : "s"));
}

// ----- JSON -----------------------------------------------------------------------------------

using Json = nlohmann::ordered_json;

template <typename T>
Json or_null(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

// The value in full, as a program reading the JSON needs it, unless it is longer than any
// valid value of that variable could reasonably be: then shortened as in the table, so the
// output stays bounded whatever the input.
constexpr std::size_t kMaxJsonValueBytes = 4096;

Json value_json(const std::optional<std::string>& display) {
  if (!display) return nullptr;
  return display->size() <= kMaxJsonValueBytes ? *display : shorten_value(*display);
}

Json setting_json(const SettingEntry& entry) {
  const SettingSpec& spec = *entry.spec;
  return Json{{"name", spec.name},
              {"layer", to_string(spec.layer)},
              {"value", value_json(entry.display)},
              {"source", entry.source.to_string()},
              {"default", or_null(spec.default_value)},
              {"recommended", or_null(describe_recommended(spec))}};
}

Json problems_json(const std::vector<SettingProblem>& problems) {
  Json list = Json::array();
  for (const SettingProblem& problem : problems) {
    list.push_back({{"name", problem.name}, {"message", problem.message}});
  }
  return list;
}

void print_json(const LoadResult& result) {
  Json settings = Json::array();
  for (const SettingEntry& entry : result.entries) settings.push_back(setting_json(entry));
  std::optional<std::string> env_file;
  if (result.env_file) env_file = result.env_file->string();
  std::optional<std::string> profile;
  if (result.profile) profile = std::string(to_string(*result.profile));
  const Json report{{"env_file", or_null(env_file)},
                    {"profile", or_null(profile)},
                    {"settings", std::move(settings)},
                    {"warnings", problems_json(result.warnings)},
                    {"errors", problems_json(result.errors)}};
  // Values come from the user's files and may not be valid UTF-8; replace rather than throw.
  fmt::print("{}\n", report.dump(2, ' ', false, Json::error_handler_t::replace));
}

int run_config(const ConfigArguments& arguments) {
  if (arguments.markdown) {
    fmt::print("{}", configuration_reference_markdown());
    return kExitOk;
  }
  const LoadResult result = load_settings(load_options(arguments));
  if (arguments.json) {
    print_json(result);
  } else {
    print_text(result);
  }
  return result.ok() ? kExitOk : kExitInvalid;
}

}  // namespace

void add_config_command(CLI::App& app) {
  auto arguments = std::make_shared<ConfigArguments>();
  CLI::App* command = app.add_subcommand(
      "config", "Show every setting with its effective value and source, then warnings and errors");
  arguments->env_file_option = command->add_option(
      "--env-file", arguments->env_file, "Dotenv file to read (default: ./.env when it exists)");
  arguments->profile_option =
      command->add_option("--profile", arguments->profile,
                          fmt::format("Profile to apply: dev, staging or production (overrides {})",
                                      setting::kPoolkitProfile));
  auto* json = command->add_flag("--json", arguments->json, "Print one JSON object instead");
  // Hidden (empty group): regenerates docs/configuration.md from the settings table.
  command->add_flag("--markdown", arguments->markdown, "Print the configuration reference")
      ->group("")
      ->excludes(json);
  command->callback([arguments] {
    const int status = run_config(*arguments);
    if (status != kExitOk) throw CLI::RuntimeError(status);
  });
}

}  // namespace poolkit::cli
