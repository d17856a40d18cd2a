#include "poolkit/dotenv.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <optional>
#include <vector>

#include "ascii.hpp"
#include "poolkit/settings.hpp"

namespace poolkit {
namespace {

using detail::is_ascii_alnum;
using detail::is_ascii_digit;
using detail::is_blank;
using detail::trim_blanks_left;
using detail::trim_blanks_right;

// A value, or why the line is malformed. Messages name the variable at most, never its value.
struct ParsedValue {
  std::string value;
  std::string error;
};

// What one line holds: nothing (blank or comment), a variable, or an error.
struct ParsedLine {
  std::optional<DotenvVariable> variable;
  std::string error;
};

bool is_name_char(char c) {
  return is_ascii_alnum(c) || c == '_';
}

std::string_view skip_export_keyword(std::string_view line) {
  constexpr std::string_view kExport = "export";
  if (line.substr(0, kExport.size()) == kExport && line.size() > kExport.size() &&
      is_blank(line[kExport.size()])) {
    return trim_blanks_left(line.substr(kExport.size()));
  }
  return line;
}

// The character a backslash escape in a double-quoted value stands for, as python-dotenv
// decodes it; nullopt for an escape it leaves alone.
std::optional<char> unescape(char c) {
  switch (c) {
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case 'r':
      return '\r';
    case 'a':
      return '\a';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'v':
      return '\v';
    case '"':
    case '\'':
    case '\\':
      return c;
    default:
      return std::nullopt;
  }
}

// After a closing quote only blanks and a comment may follow.
ParsedValue finish_quoted(std::string value, std::string_view after, std::string_view name) {
  after = trim_blanks_left(after);
  if (!after.empty() && after.front() != '#') {
    return {{}, fmt::format("unexpected text after the closing quote of {}'s value", name)};
  }
  return {std::move(value), {}};
}

ParsedValue unterminated(std::string_view name, std::string_view quote) {
  return {{},
          fmt::format("the value of {} has no closing {} quote (values must fit on one line)", name,
                      quote)};
}

ParsedValue parse_single_quoted(std::string_view text, std::string_view name) {
  const auto close = text.find('\'', 1);
  if (close == std::string_view::npos) return unterminated(name, "single");
  return finish_quoted(std::string(text.substr(1, close - 1)), text.substr(close + 1), name);
}

ParsedValue parse_double_quoted(std::string_view text, std::string_view name) {
  std::string value;
  for (std::size_t i = 1; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') return finish_quoted(std::move(value), text.substr(i + 1), name);
    if (c == '\\' && i + 1 < text.size()) {
      const auto unescaped = unescape(text[i + 1]);
      if (unescaped) {
        value += *unescaped;
      } else {
        value += text.substr(i, 2);
      }
      ++i;
      continue;
    }
    value += c;
  }
  return unterminated(name, "double");
}

// python-dotenv: a '#' starts a comment only after a blank; "a#b" is a value.
std::string parse_unquoted(std::string_view text) {
  for (std::size_t i = 1; i < text.size(); ++i) {
    if (text[i] == '#' && is_blank(text[i - 1])) {
      text = text.substr(0, i);
      break;
    }
  }
  return std::string(trim_blanks_right(text));
}

// `name` is how messages name the variable: shortened, since a name may fill a whole line.
ParsedValue parse_value(std::string_view text, std::string_view name) {
  if (!text.empty() && text.front() == '\'') return parse_single_quoted(text, name);
  if (!text.empty() && text.front() == '"') return parse_double_quoted(text, name);
  return {parse_unquoted(text), {}};
}

ParsedLine parse_line(std::string_view line, int number) {
  line = trim_blanks_left(line);
  if (line.empty() || line.front() == '#') return {};
  line = skip_export_keyword(line);

  const auto name_end = std::find_if_not(line.begin(), line.end(), is_name_char) - line.begin();
  const std::string_view name = line.substr(0, static_cast<std::size_t>(name_end));
  const std::string_view after_name = trim_blanks_left(line.substr(name.size()));
  const bool has_equals = line.find('=') != std::string_view::npos;
  if (!has_equals) return {std::nullopt, "expected NAME=value, but the line has no '='"};
  if (name.empty() || is_ascii_digit(name.front()) || after_name.front() != '=') {
    return {std::nullopt,
            "expected a variable name of letters, digits and '_' (not starting with a digit) "
            "before '='"};
  }
  ParsedValue value = parse_value(trim_blanks_left(after_name.substr(1)), shorten_value(name));
  if (!value.error.empty()) return {std::nullopt, std::move(value.error)};
  return {DotenvVariable{std::string(name), std::move(value.value), number}, {}};
}

std::string located(const std::filesystem::path& path, int line, std::string_view message) {
  return fmt::format("{}:{}: {}", path.string(), line, message);
}

DotenvFile unreadable(const std::filesystem::path& path, std::string_view why) {
  DotenvFile file;
  file.path = path;
  file.errors.push_back({0, fmt::format("{}: cannot read the env file: {}", path.string(), why)});
  return file;
}

DotenvFile too_large(const std::filesystem::path& path) {
  return unreadable(path, fmt::format("it is larger than the limit of {} bytes (1 MiB); expected "
                                      "a dotenv file of NAME=value lines: is it the right file?",
                                      kMaxDotenvBytes));
}

std::string line_too_long(std::size_t length) {
  return fmt::format(
      "the line is {} bytes long, over the limit of {} bytes (64 KiB) for one line; expected "
      "NAME=value on one line",
      length, kMaxDotenvLineBytes);
}

// Why a path that exists cannot be an env file, or nothing when it may be read. A pipe is read
// (--env-file <(...) is one); a device such as /dev/zero or /dev/stdin on a terminal is not.
std::optional<std::string_view> not_a_file(std::filesystem::file_type type) {
  using std::filesystem::file_type;
  switch (type) {
    case file_type::regular:
    case file_type::fifo:
      return std::nullopt;
    case file_type::directory:
      return "it is a directory; expected a dotenv file";
    case file_type::character:
    case file_type::block:
      return "it is a device, not a file; expected a dotenv file";
    case file_type::socket:
      return "it is a socket, not a file; expected a dotenv file";
    default:
      return "it is not a regular file; expected a dotenv file";
  }
}

// Reads at most `limit` bytes: a file or pipe longer than that is cut there, never held whole.
std::optional<std::string> read_at_most(const std::filesystem::path& path, std::size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string contents;
  constexpr std::size_t kChunk = 64 * 1024;
  std::vector<char> chunk(kChunk);
  while (contents.size() < limit) {
    in.read(chunk.data(), static_cast<std::streamsize>(std::min(kChunk, limit - contents.size())));
    contents.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (!in) break;
  }
  if (in.bad()) return std::nullopt;
  return contents;
}

// A file descriptor closed when it goes out of scope.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) noexcept : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

struct PipeRead {
  std::string contents;
  std::string error;  // empty when the writer finished (or the limit was passed)
};

// A pipe may have no writer yet, or one that never writes (a named pipe nobody feeds): opened
// without blocking, it is read until the writer closes it, `limit` bytes have come, or nothing
// has come for kPipeIdleTimeout.
constexpr std::chrono::seconds kPipeIdleTimeout{5};

PipeRead read_pipe(const std::filesystem::path& path, std::size_t limit) {
  const FileDescriptor pipe(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (pipe.get() < 0) return {{}, "it could not be opened"};
  PipeRead result;
  std::vector<char> chunk(64 * 1024);
  while (result.contents.size() < limit) {
    pollfd waiting{.fd = pipe.get(), .events = POLLIN, .revents = 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(kPipeIdleTimeout.count() * 1000));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return {{}, "it could not be read"};
    if (ready == 0) {
      return {{},
              fmt::format("it is a pipe, and nothing came through it for {} s; expected a "
                          "writer to send a dotenv file and close the pipe",
                          kPipeIdleTimeout.count())};
    }
    const auto wanted = std::min(chunk.size(), limit - result.contents.size());
    const ssize_t got = ::read(pipe.get(), chunk.data(), wanted);
    if (got == 0) break;  // the writer closed it
    if (got < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (got < 0) return {{}, "it could not be read"};
    result.contents.append(chunk.data(), static_cast<std::size_t>(got));
  }
  return result;
}

}  // namespace

const DotenvVariable* DotenvFile::find(std::string_view name) const {
  const auto match = std::find_if(variables.rbegin(), variables.rend(),
                                  [name](const DotenvVariable& v) { return v.name == name; });
  return match == variables.rend() ? nullptr : &*match;
}

DotenvFile parse_dotenv(std::string_view text, const std::filesystem::path& path) {
  if (text.size() > kMaxDotenvBytes) return too_large(path);
  constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";
  if (text.substr(0, kUtf8ByteOrderMark.size()) == kUtf8ByteOrderMark) {
    text.remove_prefix(kUtf8ByteOrderMark.size());
  }
  DotenvFile file;
  file.path = path;
  int number = 0;
  std::size_t unlisted_errors = 0;
  int first_unlisted_line = 0;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    ParsedLine parsed = line.size() > kMaxDotenvLineBytes
                            ? ParsedLine{std::nullopt, line_too_long(line.size())}
                            : parse_line(line, number);
    if (parsed.variable) file.variables.push_back(*std::move(parsed.variable));
    if (parsed.error.empty()) continue;
    if (file.errors.size() < kMaxDotenvErrors) {
      file.errors.push_back({number, located(path, number, parsed.error)});
    } else if (unlisted_errors++ == 0) {
      first_unlisted_line = number;
    }
  }
  if (unlisted_errors > 0) {
    file.errors.push_back(
        {first_unlisted_line,
         located(path, first_unlisted_line,
                 fmt::format("and {} more malformed line{} from here on, not listed one by one",
                             unlisted_errors, unlisted_errors == 1 ? "" : "s"))});
  }
  return file;
}

DotenvFile read_dotenv_file(const std::filesystem::path& path) {
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) return unreadable(path, "no such file");
  if (const auto why = not_a_file(status.type())) return unreadable(path, *why);
  if (status.type() == std::filesystem::file_type::fifo) {
    PipeRead piped = read_pipe(path, kMaxDotenvBytes + 1);
    if (!piped.error.empty()) return unreadable(path, piped.error);
    if (piped.contents.size() > kMaxDotenvBytes) return too_large(path);
    return parse_dotenv(piped.contents, path);
  }
  const auto contents = read_at_most(path, kMaxDotenvBytes + 1);
  if (!contents) return unreadable(path, "it could not be opened or read");
  if (contents->size() > kMaxDotenvBytes) return too_large(path);
  return parse_dotenv(*contents, path);
}

}  // namespace poolkit
