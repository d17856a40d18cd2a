// Fuzz target: parse_dotenv on arbitrary bytes.
//
// Invariants (a broken one traps, so libFuzzer saves the input):
// - parse_dotenv returns; nothing escapes it.
// - The caps hold: text over kMaxDotenvBytes yields exactly one error and no variable; no value
//   is longer than a line may be; at most kMaxDotenvErrors errors are listed, plus one that
//   counts the rest.
// - Every variable read has a name a shell accepts: letters, digits and '_', not starting with a
//   digit; its line number lies within the text.
// - Every error message starts with the path, is bounded in length (it never repeats the line,
//   which may be a password pasted on its own), and names a line within the text.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "poolkit/dotenv.hpp"

namespace {

constexpr std::string_view kPath = "fuzz.env";
// The longest message the parser writes, path and line number included, with room to spare.
constexpr std::size_t kMaxMessageBytes = 400;

[[noreturn]] void fail(std::string_view what) {
  std::fprintf(stderr, "dotenv_fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
  __builtin_trap();
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool is_valid_name(std::string_view name) {
  return !name.empty() && !(name.front() >= '0' && name.front() <= '9') &&
         std::all_of(name.begin(), name.end(), is_name_char);
}

void check(const poolkit::DotenvFile& file, std::string_view text) {
  const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  if (text.size() > poolkit::kMaxDotenvBytes) {
    if (!file.variables.empty() || file.errors.size() != 1) {
      fail("text over the size limit was read");
    }
  }
  if (file.errors.size() > poolkit::kMaxDotenvErrors + 1) fail("too many errors listed");
  for (const poolkit::DotenvVariable& variable : file.variables) {
    if (!is_valid_name(variable.name)) fail("a variable's name is not a valid name");
    if (variable.value.size() > poolkit::kMaxDotenvLineBytes) fail("a value is over the limit");
    if (variable.line < 1 || variable.line > lines) fail("a variable's line is out of range");
  }
  for (const poolkit::DotenvError& error : file.errors) {
    if (!error.message.starts_with(kPath)) fail("an error message does not name the file");
    if (error.message.size() > kMaxMessageBytes) fail("an error message is too long");
    if (error.line < 0 || error.line > lines) fail("an error's line is out of range");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check(poolkit::parse_dotenv(text, std::string(kPath)), text);
  } catch (...) {
    fail("parse_dotenv threw");
  }
  return 0;
}
