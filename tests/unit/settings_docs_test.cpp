#include <gtest/gtest.h>

#include <fstream>
#include <poolkit/settings.hpp>
#include <sstream>
#include <string>

namespace poolkit {
namespace {

std::string committed_reference() {
  std::ifstream in(std::string(POOLKIT_SOURCE_DIR) + "/docs/configuration.md", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The first line where two texts differ, for a failure message that points at the drift.
std::string first_difference(const std::string& expected, const std::string& actual) {
  std::istringstream expected_lines(expected);
  std::istringstream actual_lines(actual);
  std::string want;
  std::string got;
  for (int line = 1;; ++line) {
    const bool has_want = static_cast<bool>(std::getline(expected_lines, want));
    const bool has_got = static_cast<bool>(std::getline(actual_lines, got));
    if (!has_want && !has_got) return "the texts differ only in line endings";
    if (want != got || has_want != has_got) {
      return "line " + std::to_string(line) + ":\n  generated: " + (has_want ? want : "<end>") +
             "\n  committed: " + (has_got ? got : "<end>");
    }
  }
}

TEST(ConfigurationReference, CommittedDocsMatchTheSettingsTable) {
  const std::string generated = configuration_reference_markdown();
  const std::string committed = committed_reference();
  EXPECT_TRUE(generated == committed)
      << "docs/configuration.md is out of date; regenerate it with\n"
      << "  poolkit config --markdown > docs/configuration.md\n"
      << first_difference(generated, committed);
}

TEST(ConfigurationReference, DocumentsEveryVariable) {
  const std::string generated = configuration_reference_markdown();
  for (const SettingSpec& spec : setting_specs()) {
    EXPECT_NE(generated.find("| `" + std::string(spec.name) + "` |"), std::string::npos)
        << spec.name;
  }
}

}  // namespace
}  // namespace poolkit
