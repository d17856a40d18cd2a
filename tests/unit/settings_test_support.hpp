#pragma once
// Helpers for the settings, dotenv and URL tests: the run's unique password, a scratch
// directory, and a leak check that never prints what it checks (the test output is scanned
// for the password afterwards, so a failure message must not contain it either).

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace poolkit::testing {

// POOLKIT_TEST_SECRET when the build sets it (ctest does), else a fixed stand-in.
inline std::string test_secret() {
  const char* secret = std::getenv("POOLKIT_TEST_SECRET");
  return secret && *secret ? secret : "pkSecretStandIn7x9q";
}

inline bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

// `text` with the password replaced, for failure messages.
inline std::string scrubbed(std::string text) {
  const std::string secret = test_secret();
  for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
    text.replace(at, secret.size(), "<SECRET>");
  }
  return text;
}

// Fails the test when `text` contains the secret, naming only what leaked.
inline void expect_no_secret(std::string_view text, std::string_view what) {
  EXPECT_FALSE(contains(text, test_secret())) << what << " contains the test password";
}

// A directory of its own for one test, removed with everything in it afterwards.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "poolkit-settings-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }

  std::filesystem::path write(const std::string& name, std::string_view contents) const {
    const auto file = path_ / name;
    std::ofstream(file, std::ios::binary) << contents;
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace poolkit::testing
