#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <poolkit/dotenv.hpp>
#include <string>
#include <thread>

#include "settings_test_support.hpp"

namespace poolkit {
namespace {

using testing::contains;
using testing::expect_no_secret;
using testing::scrubbed;
using testing::test_secret;

DotenvFile parse(std::string_view text) {
  return parse_dotenv(text, "test.env");
}

// The value of the one variable a line defines; fails the test on a parse error.
std::string value_of(std::string_view line) {
  const DotenvFile file = parse(line);
  EXPECT_TRUE(file.errors.empty()) << (file.errors.empty() ? "" : file.errors[0].message);
  if (file.variables.size() != 1) {
    ADD_FAILURE() << "expected exactly one variable";
    return {};
  }
  return file.variables[0].value;
}

// The one error a line causes; fails the test when it parses.
std::string error_of(std::string_view text) {
  const DotenvFile file = parse(text);
  if (file.errors.size() != 1) {
    ADD_FAILURE() << "expected exactly one error, got " << file.errors.size();
    return {};
  }
  return file.errors[0].message;
}

TEST(Dotenv, ReadsNameValueLinesWithTheirLineNumbers) {
  const DotenvFile file = parse("A=1\nB=two\n");
  ASSERT_EQ(file.variables.size(), 2u);
  EXPECT_EQ(file.variables[0].name, "A");
  EXPECT_EQ(file.variables[0].value, "1");
  EXPECT_EQ(file.variables[1].name, "B");
  EXPECT_EQ(file.variables[1].line, 2);
}

TEST(Dotenv, BlankLinesAndCommentsAreSkipped) {
  const DotenvFile file = parse("\n# a comment\n   \n\t# indented comment\nA=1\n");
  ASSERT_EQ(file.variables.size(), 1u);
  EXPECT_EQ(file.variables[0].line, 5);
  EXPECT_TRUE(file.errors.empty());
}

TEST(Dotenv, ExportPrefixIsAccepted) {
  EXPECT_EQ(value_of("export  A=1"), "1");
}

TEST(Dotenv, VariableNamedExportIsStillAVariable) {
  const DotenvFile file = parse("export=1");
  ASSERT_EQ(file.variables.size(), 1u);
  EXPECT_EQ(file.variables[0].name, "export");
}

TEST(Dotenv, BlanksAroundEqualsAndValueAreTrimmed) {
  EXPECT_EQ(value_of("  A \t=  v w  "), "v w");
}

TEST(Dotenv, EmptyValueIsAnEmptyString) {
  EXPECT_EQ(value_of("A="), "");
  EXPECT_EQ(value_of("A=\"\""), "");
}

TEST(Dotenv, SingleQuotedValueIsLiteral) {
  EXPECT_EQ(value_of(R"(A='a\nb # not a comment "x"')"), R"(a\nb # not a comment "x")");
}

TEST(Dotenv, DoubleQuotedValueDecodesEscapes) {
  EXPECT_EQ(value_of(R"(A="l1\nl2\tt \"q\" \\ \'s\'")"), "l1\nl2\tt \"q\" \\ 's'");
}

TEST(Dotenv, UnknownEscapeInDoubleQuotesIsKept) {
  EXPECT_EQ(value_of(R"(A="C:\dir")"), R"(C:\dir)");
}

TEST(Dotenv, HashAfterBlankStartsAnInlineComment) {
  EXPECT_EQ(value_of("A=100   # max"), "100");
}

TEST(Dotenv, HashWithoutBlankBeforeItIsPartOfTheValue) {
  EXPECT_EQ(value_of("A=pa#ss"), "pa#ss");
  EXPECT_EQ(value_of("A=#start"), "#start");
}

TEST(Dotenv, CommentMayFollowAClosingQuote) {
  EXPECT_EQ(value_of("A=\"x # y\" # comment"), "x # y");
  EXPECT_EQ(value_of("A='x'#comment"), "x");
}

TEST(Dotenv, WindowsLineEndingsAndByteOrderMarkAreIgnored) {
  const DotenvFile file = parse(
      "\xEF\xBB\xBF"
      "A=1\r\nB=\"2\"\r\n");
  ASSERT_EQ(file.variables.size(), 2u);
  EXPECT_EQ(file.variables[0].name, "A");
  EXPECT_EQ(file.variables[0].value, "1");
  EXPECT_EQ(file.variables[1].value, "2");
}

TEST(Dotenv, LastDefinitionOfANameCounts) {
  const DotenvFile file = parse("A=1\nA=2\n");
  EXPECT_EQ(file.variables.size(), 2u);
  ASSERT_NE(file.find("A"), nullptr);
  EXPECT_EQ(file.find("A")->value, "2");
  EXPECT_EQ(file.find("B"), nullptr);
}

TEST(Dotenv, LineWithoutEqualsIsAnErrorWithFileAndLine) {
  const std::string error = error_of("A=1\n\nJUST_A_NAME\n");
  EXPECT_TRUE(contains(error, "test.env:3:")) << error;
  EXPECT_TRUE(contains(error, "no '='")) << error;
}

TEST(Dotenv, NameStartingWithDigitIsAnError) {
  EXPECT_TRUE(contains(error_of("1A=x"), "test.env:1: expected a variable name"));
}

TEST(Dotenv, NameWithDashIsAnError) {
  EXPECT_TRUE(contains(error_of("MY-NAME=x"), "expected a variable name"));
}

TEST(Dotenv, UnterminatedDoubleQuoteIsAnErrorNamingTheVariable) {
  const std::string error = error_of("\nREDIS_URL=\"redis://h/0\n");
  EXPECT_TRUE(contains(error, "test.env:2:")) << error;
  EXPECT_TRUE(contains(error, "REDIS_URL has no closing double quote")) << error;
}

TEST(Dotenv, UnterminatedSingleQuoteIsAnError) {
  EXPECT_TRUE(contains(error_of("A='abc"), "no closing single quote"));
}

TEST(Dotenv, TextAfterClosingQuoteIsAnError) {
  EXPECT_TRUE(contains(error_of("A=\"abc\" def"), "unexpected text after the closing quote"));
}

TEST(Dotenv, MalformedLinesDoNotStopTheRestOfTheFile) {
  const DotenvFile file = parse("A=1\nbroken\nB=2\n");
  EXPECT_EQ(file.errors.size(), 1u);
  EXPECT_EQ(file.variables.size(), 2u);
}

TEST(Dotenv, ErrorsNeverRepeatTheLine) {
  const std::string secret = test_secret();
  const std::vector<std::string> malformed{
      secret,                                 // a password pasted on its own line
      "PASSWORD=\"" + secret,                 // unterminated
      "PASSWORD='" + secret + "' " + secret,  // junk after the quote
      "PASS-WORD=" + secret,                  // bad name
      "-" + secret + "=x",                    // the password where a name goes
  };
  for (const std::string& line : malformed) {
    const DotenvFile file = parse(line);
    ASSERT_EQ(file.errors.size(), 1u) << scrubbed(line);
    expect_no_secret(file.errors[0].message, "a dotenv error");
  }
}

TEST(Dotenv, MissingFileIsAnErrorNamingIt) {
  const DotenvFile file = read_dotenv_file("/nonexistent/dir/app.env");
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_EQ(file.errors[0].line, 0);
  EXPECT_TRUE(contains(file.errors[0].message, "/nonexistent/dir/app.env"));
  EXPECT_TRUE(contains(file.errors[0].message, "no such file"));
}

TEST(Dotenv, DirectoryIsNotAnEnvFile) {
  const testing::ScratchDirectory directory;
  const DotenvFile file = read_dotenv_file(directory.path());
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_TRUE(contains(file.errors[0].message, "directory"));
}

TEST(Dotenv, FileIsReadAndErrorsNameItsPath) {
  const testing::ScratchDirectory directory;
  const auto path = directory.write("app.env", "A=1\nbad line\n");
  const DotenvFile file = read_dotenv_file(path);
  ASSERT_EQ(file.variables.size(), 1u);
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_TRUE(contains(file.errors[0].message, path.string() + ":2:"));
}

// ----- bounds: a wrong path or a hostile file fails fast, never fills memory ------------------

TEST(Dotenv, TextOverTheSizeLimitIsOneErrorAndNothingIsRead) {
  const std::string text = "A=1\n" + std::string(kMaxDotenvBytes, '#');
  const DotenvFile file = parse(text);
  EXPECT_TRUE(file.variables.empty());
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_EQ(file.errors[0].line, 0);
  EXPECT_TRUE(contains(file.errors[0].message, "test.env")) << file.errors[0].message;
  EXPECT_TRUE(contains(file.errors[0].message, "larger than the limit of 1048576 bytes"))
      << file.errors[0].message;
}

TEST(Dotenv, TextAtTheSizeLimitIsRead) {
  std::string text = "A=1\n";
  const std::string comment = "#" + std::string(1000, '-') + "\n";
  while (text.size() + comment.size() <= kMaxDotenvBytes) text += comment;
  text += std::string(kMaxDotenvBytes - text.size(), '\n');
  ASSERT_EQ(text.size(), kMaxDotenvBytes);
  const DotenvFile file = parse(text);
  EXPECT_TRUE(file.errors.empty());
  EXPECT_EQ(file.variables.size(), 1u);
}

TEST(Dotenv, LineOverTheLengthLimitIsAnErrorNamingTheLimitAndTheRestIsRead) {
  const std::string value(kMaxDotenvLineBytes, 'x');
  const DotenvFile file = parse("A=" + value + "\nB=2\n");
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_EQ(file.errors[0].line, 1);
  const std::string& message = file.errors[0].message;
  EXPECT_TRUE(contains(message, "test.env:1:")) << message;
  EXPECT_TRUE(contains(message, "over the limit of 65536 bytes")) << message;
  EXPECT_LT(message.size(), 300u) << "the line itself must not be repeated";
  ASSERT_EQ(file.variables.size(), 1u);
  EXPECT_EQ(file.variables[0].name, "B");
}

TEST(Dotenv, LineAtTheLengthLimitIsRead) {
  const std::string line = "A=" + std::string(kMaxDotenvLineBytes - 2, 'x');
  EXPECT_EQ(value_of(line).size(), kMaxDotenvLineBytes - 2);
}

TEST(Dotenv, LongNameIsShownShortenedInItsError) {
  // Found by fuzz/dotenv_fuzz.cpp: the name was repeated whole.
  const std::string message = error_of(std::string(60000, 'N') + "=\"unterminated");
  EXPECT_TRUE(contains(message, "… (60000 bytes)")) << message.substr(0, 300);
  EXPECT_LT(message.size(), 300u);
}

TEST(Dotenv, ManyMalformedLinesAreCountedNotListedOneByOne) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "not a line\n";
  const DotenvFile file = parse(text);
  ASSERT_EQ(file.errors.size(), kMaxDotenvErrors + 1);
  const DotenvError& summary = file.errors.back();
  EXPECT_EQ(summary.line, static_cast<int>(kMaxDotenvErrors) + 1);
  EXPECT_TRUE(contains(summary.message, "and 980 more malformed lines")) << summary.message;
}

TEST(Dotenv, FileOverTheSizeLimitIsAnErrorNamingTheLimit) {
  const testing::ScratchDirectory directory;
  const auto path = directory.write("huge.env", std::string(kMaxDotenvBytes + 1, 'x'));
  const DotenvFile file = read_dotenv_file(path);
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_TRUE(contains(file.errors[0].message, path.string())) << file.errors[0].message;
  EXPECT_TRUE(contains(file.errors[0].message, "larger than the limit")) << file.errors[0].message;
}

TEST(Dotenv, DeviceIsNotReadAndNotAnEnvFile) {
  const auto start = std::chrono::steady_clock::now();
  const DotenvFile file = read_dotenv_file("/dev/zero");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_TRUE(contains(file.errors[0].message,
                       "/dev/zero: cannot read the env file: it is a "
                       "device, not a file"))
      << file.errors[0].message;
}

TEST(Dotenv, EndlessPipeIsReadOnlyUpToTheLimit) {
  const testing::ScratchDirectory directory;
  const auto fifo = directory.path() / "endless.env";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The writer stops on its own after 4 MiB, or when the reader has gone (EPIPE, with SIGPIPE
  // ignored in this thread's process only for the duration of the test).
  const auto previous = std::signal(SIGPIPE, SIG_IGN);
  std::thread writer([&fifo] {
    const int fd = ::open(fifo.c_str(), O_WRONLY);
    if (fd < 0) return;
    const std::string chunk(64 * 1024, 'x');
    for (int i = 0; i < 64; ++i) {
      if (::write(fd, chunk.data(), chunk.size()) < 0) break;
    }
    ::close(fd);
  });
  const DotenvFile file = read_dotenv_file(fifo);
  writer.join();
  std::signal(SIGPIPE, previous);
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_TRUE(contains(file.errors[0].message, "larger than the limit")) << file.errors[0].message;
}

TEST(Dotenv, PipeNobodyWritesToIsAnErrorAfterAFewSecondsNotAHang) {
  const testing::ScratchDirectory directory;
  const auto fifo = directory.path() / "silent.env";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto start = std::chrono::steady_clock::now();
  const DotenvFile file = read_dotenv_file(fifo);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  ASSERT_EQ(file.errors.size(), 1u);
  EXPECT_TRUE(contains(file.errors[0].message, "it is a pipe, and nothing came through it"))
      << file.errors[0].message;
}

TEST(Dotenv, PipeWhoseWriterComesLateIsRead) {
  const testing::ScratchDirectory directory;
  const auto fifo = directory.path() / "late.env";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&fifo] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const int fd = ::open(fifo.c_str(), O_WRONLY);
    if (fd < 0) return;
    const std::string_view text = "A=1\n";
    [[maybe_unused]] const auto written = ::write(fd, text.data(), text.size());
    ::close(fd);
  });
  const DotenvFile file = read_dotenv_file(fifo);
  writer.join();
  EXPECT_TRUE(file.errors.empty()) << (file.errors.empty() ? "" : file.errors[0].message);
  EXPECT_EQ(file.variables.size(), 1u);
}

TEST(Dotenv, PipeIsReadLikeAFile) {
  const testing::ScratchDirectory directory;
  const auto fifo = directory.path() / "piped.env";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&fifo] {
    const int fd = ::open(fifo.c_str(), O_WRONLY);
    if (fd < 0) return;
    const std::string_view text = "A=1\nB=2\n";
    [[maybe_unused]] const auto written = ::write(fd, text.data(), text.size());
    ::close(fd);
  });
  const DotenvFile file = read_dotenv_file(fifo);
  writer.join();
  EXPECT_TRUE(file.errors.empty());
  EXPECT_EQ(file.variables.size(), 2u);
}

}  // namespace
}  // namespace poolkit
