#pragma once
// What a hostile or broken HTTP server sends, as handlers for the in-process FaultServer
// (loopback only): garbage, endless bodies, huge headers, trickles, a status line without an
// end, silence. Every stream is bounded (kStreamCap bytes, kStreamTime, the client leaving or
// the server stopping), so a client that failed to stop it can't run a test forever.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "http_servers.hpp"

namespace poolkit::test::hostile {

inline constexpr std::size_t kStreamCap = 256u * 1024 * 1024;
inline constexpr std::chrono::seconds kStreamTime{20};

// 4 KiB of bytes that are no HTTP response, then a close.
FaultServer::Handler garbage();
// "Content-Length: <announced>" and then body bytes without end.
FaultServer::Handler endless_body(std::uint64_t announced);
// "Transfer-Encoding: chunked" and then chunks without end.
FaultServer::Handler endless_chunked_body();
// One header line of `bytes` bytes (libcurl keeps a line whole until its end).
FaultServer::Handler huge_header_line(std::size_t bytes);
// `lines` header lines of about 100 bytes each: each within libcurl's line limit.
FaultServer::Handler many_header_lines(std::size_t lines);
// "HTTP/1.1 200 OK" and then bytes without a line end.
FaultServer::Handler endless_status_line();
// A correct response of `body_bytes`, one byte every `pause`.
FaultServer::Handler trickle(std::size_t body_bytes, std::chrono::milliseconds pause);
// A correct 200 with a body of `body_bytes` (Content-Length, or chunked), then a close.
FaultServer::Handler body_of(std::size_t body_bytes, bool chunked = false);
// A correct response that says keep-alive, then a close: the pooled connection is dead.
FaultServer::Handler correct_then_close();
// Reads the request and never answers.
FaultServer::Handler silence();
// 503 with "Retry-After: <value>", to every request.
FaultServer::Handler unavailable_with_retry_after(const std::string& value);

// The test process's resident memory (VmRSS of /proc/self/status), in bytes.
std::size_t resident_bytes();

}  // namespace poolkit::test::hostile
