// Fuzz target: the masker never returns a secret.
//
// The fuzz input chooses how a URL is written: scheme, user, password, hosts, port, path, query
// parameters (names from the list of credential names in any case, percent-encoded or not, and
// harmless ones), an '@' in the path or the query, percent-encoding of any character, and a
// fragment. A planted secret is the password and the value of every credential parameter (in the
// query and in the fragment). redact_url_text(text) and, when the text parses,
// parse_url(text).redacted() must not contain the secret in any form: not as written in the
// input, not decoded, not in another letter case.
//
// Why the check has no false alarms: every part that is not the secret is built from an alphabet
// without 'z' or 'Z', and only the secret is written with them (the names X-Amz-* hold a 'z', but
// always followed by '-'), so "zq9secretxx7" in any case, decoded, can only come from the secret.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "poolkit/error.hpp"
#include "poolkit/url.hpp"

namespace {

constexpr std::string_view kSecret = "Zq9SECRETxx7";

// The query parameter names that carry credentials (issue 10's list; any case is written).
constexpr std::array<std::string_view, 19> kCredentialNames{"password",
                                                            "pass",
                                                            "pwd",
                                                            "token",
                                                            "secret",
                                                            "sig",
                                                            "signature",
                                                            "X-Amz-Signature",
                                                            "X-Amz-Credential",
                                                            "X-Amz-Security-Token",
                                                            "key",
                                                            "api_key",
                                                            "apikey",
                                                            "auth",
                                                            "client_secret",
                                                            "access_token",
                                                            "refresh_token",
                                                            "code",
                                                            "Password"};

constexpr std::array<std::string_view, 10> kSchemes{
    "redis", "rediss", "mongodb", "mongodb+srv", "http", "https", "unix", "HTTP", "Redis", "ftp"};

// Everything that is not the secret is made of these (no 'z', no 'Z', no '%').
constexpr std::string_view kPlainChars = "abcdefghijklmnopqrstuvwxy0123456789-._~";
// Characters a value may hold raw besides kPlainChars; the reserved ones are percent-encoded
// where the URL syntax needs it.
constexpr std::string_view kValueExtras = "@:/?=,!$'()*+;";

constexpr std::string_view kHexUpper = "0123456789ABCDEF";
constexpr std::string_view kHexLower = "0123456789abcdef";

class UrlBuilder {
 public:
  explicit UrlBuilder(FuzzedDataProvider& input) : input_(input) {}

  std::string build() {
    std::string url(pick(kSchemes));
    url += input_.ConsumeBool() ? "://" : ":/";
    url += userinfo();
    url += hosts();
    url += path();
    url += query();
    url += fragment();
    return url;
  }

  // Every form the secret was written in, for the check.
  const std::vector<std::string>& secret_forms() const { return secret_forms_; }

 private:
  std::string_view pick(auto const& choices) {
    return choices[input_.ConsumeIntegralInRange<std::size_t>(0, choices.size() - 1)];
  }

  static std::string percent_encode(char c, bool lower_hex) {
    const auto hex = lower_hex ? kHexLower : kHexUpper;
    const auto byte = static_cast<unsigned char>(c);
    return {'%', hex[byte >> 4], hex[byte & 0x0F]};
  }

  // Each character written raw or percent-encoded (upper- or lower-case hex), as the input says.
  // Characters in `must_encode` are always encoded: written raw they would end the part.
  std::string write(std::string_view text, std::string_view must_encode = {}) {
    std::string written;
    for (const char c : text) {
      const bool forced = must_encode.find(c) != std::string_view::npos;
      if (!forced && input_.ConsumeIntegralInRange<int>(0, 3) != 0) {
        written += c;
      } else {
        written += percent_encode(c, input_.ConsumeBool());
      }
    }
    return written;
  }

  std::string plain_text(std::size_t max_size, std::string_view extras = {}) {
    const std::size_t size = input_.ConsumeIntegralInRange<std::size_t>(0, max_size);
    std::string text;
    for (std::size_t i = 0; i < size; ++i) {
      const std::size_t choice =
          input_.ConsumeIntegralInRange<std::size_t>(0, kPlainChars.size() + extras.size() - 1);
      text +=
          choice < kPlainChars.size() ? kPlainChars[choice] : extras[choice - kPlainChars.size()];
    }
    return text;
  }

  // The secret, alone or inside other characters, written as the input says; the form written is
  // remembered for the check.
  std::string secret_value(std::string_view must_encode) {
    const std::string before = plain_text(3, kValueExtras);
    const std::string after = plain_text(3, kValueExtras);
    const std::string secret = write(kSecret);
    secret_forms_.push_back(secret);
    return write(before, must_encode) + secret + write(after, must_encode);
  }

  std::string userinfo() {
    switch (input_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
        return {};
      case 1:  // a user, no password
        return write(plain_text(8), ":@/?#") + "@";
      default:  // user and password (the user may be empty: "redis://:secret@host")
        return write(plain_text(8), ":@/?#") + ":" + secret_value("@/?#") + "@";
    }
  }

  std::string host() {
    switch (input_.ConsumeIntegralInRange<int>(0, 4)) {
      case 0:
        return "127.0.0.1";
      case 1:
        return "[::1]";
      case 2:
        return {};  // no host (unix:///path, or an error)
      default:
        return plain_text(12);
    }
  }

  std::string hosts() {
    std::string text = host();
    if (input_.ConsumeBool())
      text += ":" + std::to_string(input_.ConsumeIntegral<std::uint32_t>() % 70000);
    // A counted loop: an exhausted input reads as zeros, and must not mean "one more host".
    const int more_hosts = input_.ConsumeIntegralInRange<int>(0, 2);
    for (int i = 0; i < more_hosts; ++i) text += "," + host();
    return text;
  }

  std::string path() {
    std::string text;
    const int segments = input_.ConsumeIntegralInRange<int>(0, 3);
    for (int i = 0; i < segments; ++i) {
      text += "/" + write(plain_text(8, "@:"), "/?#");
    }
    return text;
  }

  std::string credential_name() {
    std::string name(pick(kCredentialNames));
    for (char& c : name) {  // any case
      if (c >= 'a' && c <= 'z' && input_.ConsumeIntegralInRange<int>(0, 3) == 0) c -= 'a' - 'A';
    }
    return write(name, "=&#");
  }

  // name=value pairs; a credential's value is the secret. `end` is what ends the list.
  std::string parameters(std::string_view end) {
    std::string text;
    const int count = input_.ConsumeIntegralInRange<int>(0, 6);
    const std::string must_encode = "&=" + std::string(end);
    for (int i = 0; i < count; ++i) {
      if (i > 0) text += input_.ConsumeIntegralInRange<int>(0, 7) == 0 ? "&&" : "&";
      switch (input_.ConsumeIntegralInRange<int>(0, 4)) {
        case 0:  // a bare name
          text += write(plain_text(6), must_encode);
          break;
        case 1:
        case 2:  // a harmless parameter, maybe with an '@' (e.g. an e-mail address)
          text += write(plain_text(6), must_encode) + "=" +
                  write(plain_text(10, kValueExtras), must_encode);
          break;
        default:
          text += credential_name() + "=" + secret_value(must_encode);
      }
    }
    return text;
  }

  std::string query() {
    if (!input_.ConsumeBool()) return {};
    return "?" + parameters("#");
  }

  std::string fragment() {
    switch (input_.ConsumeIntegralInRange<int>(0, 3)) {
      case 0:
        return "#" + write(plain_text(8, kValueExtras), "#");
      case 1:  // OAuth's implicit flow returns tokens in the fragment: #access_token=...
        return "#" + parameters("#");
      default:
        return {};
    }
  }

  FuzzedDataProvider& input_;
  std::vector<std::string> secret_forms_;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decoded as often as it changes (at most a few times), invalid escapes kept, in lower case.
std::string decoded_lower(std::string_view text) {
  std::string current(text);
  for (int round = 0; round < 3; ++round) {
    std::string decoded;
    for (std::size_t i = 0; i < current.size(); ++i) {
      if (current[i] == '%' && i + 2 < current.size() && hex_value(current[i + 1]) >= 0 &&
          hex_value(current[i + 2]) >= 0) {
        decoded += static_cast<char>(hex_value(current[i + 1]) * 16 + hex_value(current[i + 2]));
        i += 2;
      } else {
        decoded += current[i];
      }
    }
    if (decoded == current) break;
    current = std::move(decoded);
  }
  for (char& c : current) {
    if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
  }
  return current;
}

void check_hides_secret(std::string_view what, const std::string& output, const std::string& url,
                        const std::vector<std::string>& forms) {
  bool leaked = decoded_lower(output).find(decoded_lower(kSecret)) != std::string::npos;
  for (const std::string& form : forms) leaked = leaked || output.find(form) != std::string::npos;
  if (!leaked) return;
  std::fprintf(stderr, "url_mask_fuzz: %.*s returned the secret\n  input:  %s\n  output: %s\n",
               static_cast<int>(what.size()), what.data(), url.c_str(), output.c_str());
  __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  UrlBuilder builder(input);
  const std::string url = builder.build();

  check_hides_secret("redact_url_text", poolkit::redact_url_text(url), url, builder.secret_forms());
  try {
    const poolkit::Url parsed = poolkit::parse_url(url);
    check_hides_secret("Url::redacted", parsed.redacted(), url, builder.secret_forms());
  } catch (const poolkit::ConfigError& error) {
    check_hides_secret("parse_url's error message", error.what(), url, builder.secret_forms());
  }
  return 0;
}
