// Fuzz target: the RESP reply path, i.e. the reply scanner in front of hiredis' reader, on
// arbitrary bytes split at fuzz-chosen points, the way Connection::read_reply drives them.
//
// Input: byte 0 picks the reply limit (256 B to 4 KiB), byte 1 seeds the split sizes; the rest
// is the byte stream from the "server".
//
// Invariants (a broken one traps, so libFuzzer saves the input):
// - feed() consumes all of its input when it needs more, and never more than its input.
// - A complete reply is at most max_reply_bytes long, reply_bytes() says its real length, and
//   hiredis, fed exactly what the scanner accepted, returns exactly that one reply.
// - Whatever the scanner accepted, hiredis parses without an error: hiredis never sees a header
//   that breaks a limit, and its own nesting limit is never the one that stops a reply.
// - The same reply fed whole to a fresh scanner is complete at the same length (the split does
//   not change the verdict).
// - After a violation, feed() keeps refusing and consumes nothing.
#include <hiredis/hiredis.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "redis/reply_scanner.hpp"

namespace {

using poolkit::redis::detail::ReplyLimits;
using poolkit::redis::detail::ReplyScanner;
using Status = ReplyScanner::Status;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "resp_reply_fuzz: %s\n", what);
  __builtin_trap();
}

struct ReaderFree {
  void operator()(redisReader* reader) const noexcept { redisReaderFree(reader); }
};
using Reader = std::unique_ptr<redisReader, ReaderFree>;

struct ReplyFree {
  void operator()(void* reply) const noexcept { freeReplyObject(reply); }
};
using ParsedReply = std::unique_ptr<void, ReplyFree>;

// What hiredis has made of the bytes fed so far: an error traps; otherwise the reply or null.
ParsedReply next_reply(redisReader& reader) {
  void* raw = nullptr;
  if (redisReaderGetReply(&reader, &raw) != REDIS_OK) fail("hiredis refused accepted bytes");
  return ParsedReply(raw);
}

void check_whole(std::string_view reply, const ReplyLimits& limits) {
  ReplyScanner fresh(limits);
  const auto result = fresh.feed(reply);
  if (result.status != Status::complete || result.consumed != reply.size()) {
    fail("the reply fed whole is not complete at the same length");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  ReplyLimits limits;
  limits.max_reply_bytes = std::size_t{256} << (data[0] % 5);
  limits.max_line_bytes = 64;
  limits.max_array_elements = 512;
  std::uint32_t split_state = data[1] | 1u;
  const std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

  ReplyScanner scanner(limits);
  const Reader reader(redisReaderCreate());
  if (!reader) return 0;
  std::string current;  // bytes of the reply in progress, as hiredis was given them
  std::size_t offset = 0;
  while (offset < stream.size()) {
    split_state = split_state * 1103515245u + 12345u;  // fuzz-seeded split sizes
    const std::size_t piece = 1 + (split_state >> 16) % 64;
    const std::string_view chunk = stream.substr(offset, piece);
    const auto result = scanner.feed(chunk);
    if (result.consumed > chunk.size()) fail("consumed more than its input");
    if (result.status == Status::need_more && result.consumed != chunk.size()) {
      fail("needs more but left input unconsumed");
    }
    const std::string_view accepted = chunk.substr(0, result.consumed);
    if (!accepted.empty() &&
        redisReaderFeed(reader.get(), accepted.data(), accepted.size()) != REDIS_OK) {
      fail("hiredis could not take the bytes");
    }
    current.append(accepted);
    offset += result.consumed;
    ParsedReply parsed = next_reply(*reader);
    if (result.status == Status::violation) {
      if (parsed) fail("hiredis found a reply in bytes the scanner refused to finish");
      const auto again = scanner.feed(stream.substr(offset));
      if (again.status != Status::violation || again.consumed != 0) {
        fail("a refused stream was accepted again");
      }
      return 0;
    }
    if (result.status == Status::need_more) {
      if (parsed) fail("hiredis found a reply the scanner has not finished");
      continue;
    }
    // Complete.
    if (!parsed) fail("the scanner found a reply hiredis did not");
    if (current.size() > limits.max_reply_bytes) fail("accepted a reply over the limit");
    if (scanner.reply_bytes() != current.size()) fail("reply_bytes() is not the reply's length");
    if (next_reply(*reader)) fail("hiredis found a second reply in one");
    check_whole(current, limits);
    current.clear();
  }
  return 0;
}
