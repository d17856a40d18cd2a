// docs/configuration.md, generated from the settings table so the two cannot drift: a unit test
// compares the committed file with this output.

#include <fmt/format.h>

#include <array>

#include "poolkit/setting_names.hpp"
#include "poolkit/settings.hpp"

namespace poolkit {
namespace {

constexpr std::array kLayers{Layer::general, Layer::mongo, Layer::redis, Layer::http_async,
                             Layer::http_sync};
constexpr std::array kProfiles{Profile::dev, Profile::staging, Profile::production};

// A format string: {profile} and the like are the setting names, {{ }} literal braces.
constexpr std::string_view kIntroduction = R"(# Configuration reference

<!-- Generated from the settings table (src/core/settings_table.cpp) by
     `poolkit config --markdown > docs/configuration.md`. Do not edit by hand:
     a unit test fails when this file and the table disagree. -->

Every poolkit setting is an environment variable; the names are those of the original
deployment, so an existing `.env` works unchanged. For each variable the first of these
that has a value wins:

1. the process environment;
2. a dotenv file: `--env-file FILE`, or `./.env` when it exists (read like python-dotenv:
   `export`, quotes, escapes and `#` comments are understood; `${{VAR}}` is not expanded).
   It may be a file or a pipe (`--env-file <(...)`) of at most 1 MiB, with lines of at most
   64 KiB; anything larger, a directory, a device or a pipe silent for 5 s is an error naming
   the file;
3. the profile chosen by `{profile}` (or `poolkit config --profile NAME`);
4. the built-in default.

Every value is parsed strictly. A value that does not parse or lies outside the valid
range is an error that names the variable, the value (secrets masked; a value longer than
40 bytes shown as its first 40 bytes and its length) and what is expected; poolkit never
falls back to a default silently. A value outside the recommended range is accepted with a
warning, unless it is the value the active profile prescribes. Variables that look like
misspelled poolkit variables, or that other software names differently (`MONGO_URL`,
`MONGODB_URI`, `REDIS_URI`, `REQUEST_TIMEOUT`, `AIOHTTP_TIMEOUT`, `REDIS_TIMEOUT`, ...), are
reported as warnings naming the poolkit variable, and `waitQueueMultiple` in any form is an
error: it does not exist in modern MongoDB drivers.

URLs are judged as the clients will use them, so `config`, `check` and `bench` refuse the
same ones: a Redis database that is not a whole number (`/0` or `?db=0`), a Redis user
without a password, a `rediss://` TLS option (`?ssl_ca_certs=`, ...) with a bad value or a
file that cannot be used, a unix socket path longer than
the system's limit (107 bytes), and any `{mongodb_url}` libmongoc's own parser refuses (e.g.
`maxPoolSize=abc`). A MongoDB unix socket is written percent-encoded as the host:
`mongodb://%2Ftmp%2Fmongodb-27017.sock`. `{metrics_addr}` on all interfaces
(`0.0.0.0`, `[::]`) is a warning: the metrics are then reachable from other machines.

Check a configuration with `poolkit config [--env-file FILE] [--profile NAME] [--json]`
(exit status 0 when valid, 2 when not; `--json` shows values in full up to 4 KiB, longer
ones shortened like the table). `poolkit check` and `poolkit bench` also exit 2 on an
invalid configuration, and `check --only LAYER` when that layer is not configured.

**Rule of thumb:** pool size ≈ the peak concurrency you want for that backend, plus about
20% for bursts.

## Value formats

| type | written as |
|---|---|
| count | digits only, e.g. `100` (no sign, blanks, exponent or hex) |
| milliseconds | digits only, e.g. `5000` |
| seconds | digits with an optional decimal point, at most 3 decimals: `2`, `2.5`, `0.25` (no sign, exponent, `inf` or `nan`) |
| URL | a connection URL; the password and secret query values (`password=`, `token=`, ...) are always shown as `****`; percent-encode reserved characters in user names and passwords |
| text | non-empty UTF-8, no control characters |
| name | printable ASCII without spaces |
| choice | one of the listed words |
| list | comma-separated listed words, each at most once |

An empty value is an error for every type: unset the variable to get its default.
)";

std::string format_bound(double value) {
  return fmt::format("{}", value);
}

// The valid values in a few words, for the table's "valid" column.
std::string valid_column(const SettingSpec& spec) {
  const ValueRange& range = spec.valid;
  switch (spec.kind) {
    case ValueKind::count:
    case ValueKind::milliseconds:
      return fmt::format("{}–{}", format_bound(range.min), format_bound(range.max));
    case ValueKind::seconds:
      return range.min_exclusive
                 ? fmt::format("> {}, ≤ {}", format_bound(range.min), format_bound(range.max))
                 : fmt::format("{}–{}", format_bound(range.min), format_bound(range.max));
    case ValueKind::url:
    case ValueKind::choice:
    case ValueKind::list: {
      std::string words;
      for (const std::string_view word : spec.choices) {
        words += (words.empty() ? "" : ", ") +
                 fmt::format("`{}{}`", word, spec.kind == ValueKind::url ? "://" : "");
      }
      return words;
    }
    case ValueKind::text:
      return spec.max_length > 0 ? fmt::format("≤ {} bytes", spec.max_length) : "any";
    case ValueKind::token:
      return "no spaces";
    case ValueKind::address:
      return "`host:port`";
    case ValueKind::bytes:
      return fmt::format("{}–{} bytes", format_bound(range.min), format_bound(range.max));
    case ValueKind::boolean:
      return "`true`, `false`";
    case ValueKind::path:
      return "a file path";
  }
  return {};
}

std::string default_column(const SettingSpec& spec) {
  return spec.default_value ? fmt::format("`{}`", *spec.default_value) : "unset";
}

std::string meaning_column(const SettingSpec& spec) {
  std::string meaning(spec.help);
  if (spec.secret) meaning += " (secret: shown masked)";
  return meaning;
}

std::string layer_section(Layer layer) {
  std::string section = fmt::format("\n## {}\n\n", to_string(layer));
  section += "| variable | type | default | valid | recommended | meaning |\n";
  section += "|---|---|---|---|---|---|\n";
  for (const SettingSpec& spec : setting_specs()) {
    if (spec.layer != layer) continue;
    section += fmt::format("| `{}` | {} | {} | {} | {} | {} |\n", spec.name, to_string(spec.kind),
                           default_column(spec), valid_column(spec),
                           describe_recommended(spec).value_or(""), meaning_column(spec));
  }
  return section;
}

std::string profiles_section() {
  std::string section = fmt::format(
      "\n## Profiles\n\n"
      "`{}` selects these values where a variable is not set explicitly\n"
      "(the tuning table of the original pooling guide):\n\n"
      "| variable | dev | staging | production |\n"
      "|---|---|---|---|\n",
      setting::kPoolkitProfile);
  for (const SettingSpec& spec : setting_specs()) {
    if (spec.profile_values.dev.empty() && spec.profile_values.staging.empty() &&
        spec.profile_values.production.empty()) {
      continue;
    }
    section += fmt::format("| `{}` |", spec.name);
    for (const Profile profile : kProfiles) {
      const std::string_view value = spec.profile_values[profile];
      section += value.empty() ? std::string(" (default) |") : fmt::format(" {} |", value);
    }
    section += '\n';
  }
  return section;
}

}  // namespace

std::string configuration_reference_markdown() {
  std::string markdown =
      fmt::format(fmt::runtime(kIntroduction), fmt::arg("profile", setting::kPoolkitProfile),
                  fmt::arg("mongodb_url", setting::kMongodbUrl),
                  fmt::arg("metrics_addr", setting::kPoolkitMetricsAddr));
  for (const Layer layer : kLayers) markdown += layer_section(layer);
  markdown += profiles_section();
  return markdown;
}

}  // namespace poolkit
