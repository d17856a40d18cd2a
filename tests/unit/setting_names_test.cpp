// Every setting is named once: include/poolkit/setting_names.hpp spells the names, the settings
// table and all other code use its constants. This test reads the source tree and fails on a
// string literal, in src/, include/, tools/ or examples/, that contains a table name as a word
// ("REDIS_MAX_CONNECTIONS", or "raise REDIS_MAX_CONNECTIONS"), naming file:line. Comments may
// name settings; docs/ and tests/ are not scanned.

#include "poolkit/setting_names.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/settings.hpp"

namespace {

namespace fs = std::filesystem;

struct Literal {
  int line = 0;
  std::string text;  // as written, escapes left in place
};

bool is_word_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

// The string literals of a C++ source, with the line each starts on. Skips comments and
// character literals; knows raw strings and digit separators (100'000).
std::vector<Literal> string_literals(std::string_view code) {
  std::vector<Literal> found;
  int line = 1;
  std::size_t i = 0;
  auto advance_to = [&](std::size_t end) {
    end = std::min(end, code.size());
    line += static_cast<int>(std::count(code.begin() + static_cast<std::ptrdiff_t>(i),
                                        code.begin() + static_cast<std::ptrdiff_t>(end), '\n'));
    i = end;
  };
  while (i < code.size()) {
    const std::string_view rest = code.substr(i);
    const bool after_word = i > 0 && is_word_char(code[i - 1]);
    if (rest.starts_with("//")) {
      advance_to(code.find('\n', i));
    } else if (rest.starts_with("/*")) {
      advance_to(code.find("*/", i) + 2);
    } else if (rest.starts_with("R\"") && !after_word) {
      const std::size_t open = code.find('(', i);
      const std::string close = ")" + std::string(code.substr(i + 2, open - i - 2)) + "\"";
      const std::size_t end = code.find(close, open);
      found.push_back({line, std::string(code.substr(open + 1, end - open - 1))});
      advance_to(end + close.size());
    } else if (code[i] == '"') {
      std::size_t end = i + 1;
      while (end < code.size() && code[end] != '"') end += code[end] == '\\' ? 2 : 1;
      found.push_back({line, std::string(code.substr(i + 1, end - i - 1))});
      advance_to(end + 1);
    } else if (code[i] == '\'' && !after_word) {
      std::size_t end = i + 1;
      while (end < code.size() && code[end] != '\'') end += code[end] == '\\' ? 2 : 1;
      advance_to(end + 1);
    } else {
      advance_to(i + 1);
    }
  }
  return found;
}

bool contains_word(std::string_view text, std::string_view word) {
  for (std::size_t at = text.find(word); at != std::string_view::npos;
       at = text.find(word, at + 1)) {
    const bool starts = at == 0 || !is_word_char(text[at - 1]);
    const std::size_t after = at + word.size();
    const bool ends = after == text.size() || !is_word_char(text[after]);
    if (starts && ends) return true;
  }
  return false;
}

// "file:line: NAME" for every literal that names a setting.
std::vector<std::string> retyped_names(const fs::path& root, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  std::vector<std::string> found;
  for (const Literal& literal : string_literals(content.str())) {
    for (const std::string_view name : poolkit::setting::kAll) {
      if (!contains_word(literal.text, name)) continue;
      found.push_back(fs::relative(file, root).string() + ":" + std::to_string(literal.line) +
                      ": " + std::string(name));
    }
  }
  return found;
}

bool is_cpp_source(const fs::path& path) {
  const std::string extension = path.extension().string();
  return extension == ".cpp" || extension == ".hpp" || extension == ".h";
}

TEST(SettingNames, TheConstantsAreTheTableNamesInTableOrder) {
  const auto specs = poolkit::setting_specs();
  ASSERT_EQ(specs.size(), poolkit::setting::kAll.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    EXPECT_EQ(specs[i].name, poolkit::setting::kAll[i]);
  }
}

TEST(SettingNames, TheScannerFindsLiteralsAndSkipsComments) {
  const auto literals = string_literals(
      "// \"REDIS_URL\" in a comment\n"
      "int n = 100'000; char c = '\"';\n"
      "/* \"MONGODB_URL\" */ auto s = \"raise REDIS_WAIT_TIMEOUT\";\n"
      "auto r = R\"x(a \"REDIS_URL\" b)x\";\n");
  ASSERT_EQ(literals.size(), 2u);
  EXPECT_EQ(literals[0].line, 3);
  EXPECT_EQ(literals[0].text, "raise REDIS_WAIT_TIMEOUT");
  EXPECT_EQ(literals[1].line, 4);
  EXPECT_TRUE(contains_word(literals[1].text, "REDIS_URL"));
  EXPECT_FALSE(contains_word("MY_REDIS_URL_2", "REDIS_URL"));
}

TEST(SettingNames, NoSourceRetypesASettingName) {
  const fs::path root = POOLKIT_SOURCE_DIR;
  const fs::path spelled_once = root / "include/poolkit/setting_names.hpp";
  std::vector<std::string> found;
  std::size_t scanned = 0;
  for (const char* folder : {"src", "include", "tools", "examples"}) {
    for (const auto& entry : fs::recursive_directory_iterator(root / folder)) {
      if (!entry.is_regular_file() || !is_cpp_source(entry.path())) continue;
      if (fs::equivalent(entry.path(), spelled_once)) continue;
      ++scanned;
      const auto in_file = retyped_names(root, entry.path());
      found.insert(found.end(), in_file.begin(), in_file.end());
    }
  }
  EXPECT_GT(scanned, 50u) << "the source tree was not found under " << root;
  std::string report;
  for (const std::string& where : found) report += "  " + where + "\n";
  EXPECT_TRUE(found.empty()) << "setting names typed as string literals; use the constants of "
                                "include/poolkit/setting_names.hpp instead:\n"
                             << report;
}

}  // namespace
