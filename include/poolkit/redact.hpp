#pragma once
// Masking of secrets in anything poolkit prints: URLs (valid or not), query parameters and
// HTTP header values. Every output path (messages, logs, CLI text and JSON, metric labels,
// health reports) goes through these functions, so there is one definition of "secret".
//
// The rule: mask the secret, never what tells the user where things went. Host, port, path and
// the names of query parameters stay readable; a password, a lone user-info part (often a
// token), the value of a parameter whose name marks a credential, a port that is not a number
// (the tail of a password with an unencoded ':' or '/') and a fragment become "****".

#include <string>
#include <string_view>

namespace poolkit {

// The text of a URL with its secrets masked, e.g.
//   redis://app:s3cret@cache:6379/0?password=x  →  redis://app:****@cache:6379/0?password=****
// It parses the text as RFC 3986 does (the authority ends at the first '/', '?' or '#'), for any
// scheme and for text that does not parse as a valid URL. Text without "scheme://" cannot be
// told apart from a bare secret and is masked whole; empty text stays empty.
std::string redact_url_text(std::string_view text);

// Whether a query parameter with this name (already percent-decoded; any case) carries a
// credential: password, token, sig, X-Amz-Signature, key, api_key, code, ...
bool is_secret_query_key(std::string_view key);

// Whether an HTTP header with this name (any case) carries a credential: Authorization,
// Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, and names with token/secret/password.
bool is_secret_header(std::string_view name);

// The header's value as it may be printed: "****" for a secret header, else the value.
std::string redact_header_value(std::string_view name, std::string_view value);

}  // namespace poolkit
