#pragma once
// Dotenv files, read the way python-dotenv reads them so a service's existing .env works
// unchanged: `KEY=value` lines, blank lines and `#` comments, an optional `export ` prefix,
// blanks around '=' ignored, 'single quotes' taken literally, "double quotes" with backslash
// escapes (\n \t \r \" \\ \' \a \b \f \v; other backslashes are kept), and an inline comment
// after an unquoted value when the '#' follows a blank. Values span one line; `${VAR}`
// references are not expanded.
//
// A line that does not parse is an error naming the file and line. The message never repeats
// the line's text: a malformed line may be a password pasted on its own.
//
// Input is bounded so that a wrong path (/dev/zero, a log file, a pipe that never ends) fails
// fast instead of filling memory: a file holds at most kMaxDotenvBytes, a line at most
// kMaxDotenvLineBytes, and at most kMaxDotenvErrors malformed lines are reported one by one.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace poolkit {

inline constexpr std::size_t kMaxDotenvBytes = 1024 * 1024;    // 1 MiB
inline constexpr std::size_t kMaxDotenvLineBytes = 64 * 1024;  // 64 KiB
inline constexpr std::size_t kMaxDotenvErrors = 20;            // then one line counts the rest

struct DotenvVariable {
  std::string name;
  std::string value;
  int line = 0;  // 1-based
};

struct DotenvError {
  int line = 0;         // 1-based; 0 when the file itself could not be read
  std::string message;  // complete, starting with "path:line: "
};

struct DotenvFile {
  std::filesystem::path path;
  std::vector<DotenvVariable> variables;  // in file order, duplicates included
  std::vector<DotenvError> errors;

  // The definition that counts: the last one of that name, or nullptr.
  const DotenvVariable* find(std::string_view name) const;
};

// Parses dotenv text; `path` names it in error messages. Text over kMaxDotenvBytes is an error
// (line 0) and nothing of it is read; a line over kMaxDotenvLineBytes is an error for that line.
DotenvFile parse_dotenv(std::string_view text, const std::filesystem::path& path);

// Reads and parses a file, never more than kMaxDotenvBytes + 1 bytes of it. A file that does not
// exist or cannot be read, a directory, a device or a socket is an error (line 0). A pipe (e.g.
// --env-file <(...)) is read like a file, up to the same bound, until its writer closes it; a
// pipe through which nothing comes for 5 s (a named pipe nobody writes to) is an error.
DotenvFile read_dotenv_file(const std::filesystem::path& path);

}  // namespace poolkit
