// Fuzz target: load_settings and Settings::from_environment on a fuzzed environment.
//
// Input: the first byte chooses where a secret URL carries its password (see kSecretUrls), the
// first line (after that byte) is the rest of that URL (hosts, path, query), and every further
// line is one NAME=value of the environment. The password is a fixed token that no fuzzed byte
// may contain, so wherever it shows up the code under test put it there.
//
// Invariants (a broken one traps, so libFuzzer saves the input):
// - load_settings never throws; Settings::from_environment throws nothing but ConfigError.
// - Every warning and error message is bounded in length, however long the values and names.
// - No message, no displayed value and no ConfigError contains the password.
// - A result is ok exactly when it holds typed settings.
#include <mongoc/mongoc.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "poolkit/error.hpp"
#include "poolkit/settings.hpp"

namespace {

constexpr std::string_view kPassword = "Pk7fUzzSecretQ9";

// Where the password goes, as prefix + password + middle + the fuzzed rest.
struct SecretUrl {
  std::string_view variable;
  std::string_view prefix;
  std::string_view middle;
};

constexpr SecretUrl kSecretUrls[] = {
    {"REDIS_URL", "redis://app:", "@"},
    {"REDIS_URL", "redis://:", "@"},
    {"REDIS_URL", "redis://127.0.0.1/0?password=", "&"},
    {"REDIS_URL", "unix://:", "@"},
    {"MONGODB_URL", "mongodb://app:", "@"},
    {"MONGODB_URL", "mongodb+srv://app:", "@"},
    {"MONGODB_URL", "mongodb://127.0.0.1/app?token=", "&"},
    {"MONGODB_URL", "mongodb://app:", "@127.0.0.1/app?tls=true&"},
};

// The longest message loading may write: variable names and values are shown shortened, and
// libmongoc's messages are cut; the fixed wording is a few hundred bytes at most.
constexpr std::size_t kMaxMessageBytes = 1500;

[[noreturn]] void fail(std::string_view what) {
  std::fprintf(stderr, "settings_fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  __builtin_trap();
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

void ignore_mongoc_log(mongoc_log_level_t, const char*, const char*, void*) {}

poolkit::Environment environment_from(std::string_view text) {
  poolkit::Environment environment;
  const std::size_t choice = text.empty() ? 0 : static_cast<unsigned char>(text.front());
  if (!text.empty()) text.remove_prefix(1);
  const SecretUrl& secret = kSecretUrls[choice % std::size(kSecretUrls)];
  const auto first_end = text.find('\n');
  const std::string_view rest = text.substr(0, first_end);
  environment[std::string(secret.variable)] = std::string(secret.prefix) + std::string(kPassword) +
                                              std::string(secret.middle) + std::string(rest);
  text.remove_prefix(first_end == std::string_view::npos ? text.size() : first_end + 1);
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const auto equals = line.find('=');
    if (equals == std::string_view::npos || equals == 0) continue;
    // An environment entry holds no NUL; the first definition wins, as in a real environment.
    const std::string_view name = line.substr(0, equals);
    const std::string_view value = line.substr(equals + 1);
    if (contains(name, std::string_view("\0", 1)) || contains(value, std::string_view("\0", 1))) {
      continue;
    }
    environment.emplace(std::string(name), std::string(value));
  }
  return environment;
}

void check_problem(const poolkit::SettingProblem& problem) {
  if (problem.message.size() > kMaxMessageBytes) fail("a message is too long");
  if (contains(problem.message, kPassword) || contains(problem.name, kPassword)) {
    fail("a message contains the password");
  }
}

void check(const poolkit::LoadResult& result) {
  if (result.ok() != result.settings.has_value()) fail("ok() and settings disagree");
  for (const poolkit::SettingProblem& problem : result.warnings) check_problem(problem);
  for (const poolkit::SettingProblem& problem : result.errors) check_problem(problem);
  for (const poolkit::SettingEntry& entry : result.entries) {
    if (entry.display && entry.spec->secret && contains(*entry.display, kPassword)) {
      fail("a displayed value contains the password");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  mongoc_log_set_handler(ignore_mongoc_log, nullptr);  // unsupported options: noise, not findings
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (contains(text, kPassword)) return 0;  // the token must come from the secret URL only
  poolkit::LoadOptions options;
  options.discover_env_file = false;
  options.environment = environment_from(text);
  try {
    check(poolkit::load_settings(options));
  } catch (...) {
    fail("load_settings threw");
  }
  try {
    poolkit::Settings::from_environment(options);
  } catch (const poolkit::ConfigError& error) {
    if (contains(error.what(), kPassword)) fail("a ConfigError contains the password");
  } catch (...) {
    fail("Settings::from_environment threw something other than ConfigError");
  }
  return 0;
}
