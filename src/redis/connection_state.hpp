#pragma once
// What a Connection keeps between calls, out of the public header: the bytes received and the
// reply scanner, and what the current operation did, which the client's retries are decided by.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "poolkit/redis.hpp"
#include "reply_scanner.hpp"
#include "tls_stream.hpp"

struct redisReply;  // hiredis

namespace poolkit::redis::detail {

// The command in RESP, appended to `out`.
void append_command(std::string& out, std::span<const Arg> args);
// Whether a word after the command's name is `option`, in any case (SET … NX, XREAD … BLOCK).
bool has_option(std::span<const Arg> args, std::string_view option) noexcept;
// hiredis' reply as ours.
Reply reply_from_hiredis(const redisReply& reply);

// Bytes asked of the kernel per recv(): what the connection holds beyond hiredis' own buffer.
inline constexpr std::size_t kReceiveChunk = 16 * 1024;

// What the current operation (one client call, retries apart) did to its connection.
struct Attempt {
  bool wrote = false;  // some byte of it reached the socket
  bool lost = false;   // the connection was lost (not merely timed out)
  // The server had closed the connection while it sat idle, found before anything was written.
  bool closed_while_idle = false;
  // The reply had started arriving when the deadline passed: the server answers, too slowly,
  // and a retry would take as long again.
  bool timed_out_mid_reply = false;
  bool checked_alive = false;  // the idle check ran before the first write
};

struct ConnectionState {
  explicit ConnectionState(const ReplyLimits& limits) : scanner(limits) {}
  bool has_unscanned() const noexcept { return scanned < received; }
  std::string_view unscanned() const noexcept {
    return std::string_view(buffer.get() + scanned, received - scanned);
  }

  ReplyScanner scanner;
  // Bytes received; those from `scanned` to `received` are not scanned yet (the next replies).
  std::unique_ptr<char[]> buffer = std::make_unique_for_overwrite<char[]>(kReceiveChunk);
  std::size_t scanned = 0;
  std::size_t received = 0;
  std::optional<std::chrono::steady_clock::time_point> started;  // the round trip in flight
  Attempt attempt;
  std::unique_ptr<TlsStream> tls;  // rediss://: every byte goes through it
};

// The client's (and the connector's) access to a connection's bookkeeping.
struct ConnectionAccess {
  // Forgets what the previous operation did; call before each attempt.
  static void begin_operation(Connection& connection) noexcept {
    connection.state_->attempt = Attempt{};
  }
  static const Attempt& attempt(const Connection& connection) noexcept {
    return connection.state_->attempt;
  }
  // After the TLS handshake, before the first command.
  static void use_tls(Connection& connection, std::unique_ptr<TlsStream> stream) noexcept {
    connection.state_->tls = std::move(stream);
  }
  static const TlsStream* tls(const Connection& connection) noexcept {
    return connection.state_->tls.get();
  }
  // The async client drives the stream itself once the connection is open.
  static TlsStream* tls_stream(Connection& connection) noexcept;
  // Bytes received (or decrypted) and not read as a reply yet: the next reply may be waiting
  // although the socket is not readable. For a subscriber that polls before each read.
  static bool has_buffered(const Connection& connection) noexcept {
    const ConnectionState& state = *connection.state_;
    return state.has_unscanned() || (state.tls && state.tls->has_buffered());
  }
};

}  // namespace poolkit::redis::detail
