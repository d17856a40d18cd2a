#pragma once
// A streaming RESP2 scanner that stands in front of hiredis' reader. It follows one reply's
// structure as its bytes arrive and refuses it the moment a limit is broken, before hiredis sees
// (and allocates for) the offending header: hiredis 0.14 callocs an array for `*N` at once and
// grows its buffer for any `$N`, so a hostile server could otherwise make us allocate gigabytes.
//
// It allocates nothing itself and keeps O(max_depth) state. Pure: no I/O, no clock.
//
//   ReplyScanner scanner(limits);
//   auto result = scanner.feed(bytes);  // need_more / complete / violation
//   // complete: the first result.consumed bytes of `bytes` end the reply; the rest belongs to
//   // the next one, which the next feed() starts.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace poolkit::redis::detail {

struct ReplyLimits {
  // REDIS_MAX_REPLY_BYTES: the whole reply, so also any one bulk string and what an array's
  // announced element count implies.
  std::size_t max_reply_bytes = std::size_t{64} << 20;
  // A status, error or integer line: real servers send short ones.
  std::size_t max_line_bytes = std::size_t{64} << 10;
  // Elements of one array, whatever the byte budget: 2^24 (a 64 MiB reply of ":0\r\n").
  std::size_t max_array_elements = std::size_t{1} << 24;
  // Arrays inside arrays; hiredis 0.14 refuses a ninth level with a generic error.
  std::size_t max_depth = 8;
};

// The smallest a RESP2 element can be: "+\r\n".
inline constexpr std::size_t kMinElementBytes = 3;

enum class ReplyLimit {
  reply_bytes,     // the whole reply (or what it has announced) exceeds max_reply_bytes
  bulk_length,     // one bulk string announced longer than max_reply_bytes
  array_length,    // an array whose elements cannot fit in max_reply_bytes
  array_elements,  // an array with more than max_array_elements elements
  line_length,     // a status/error line longer than max_line_bytes
  nesting,         // arrays nested deeper than max_depth
  malformed,       // not RESP2: bad type byte, bad length, missing CRLF
};

std::string_view to_string(ReplyLimit limit) noexcept;

class ReplyScanner {
 public:
  enum class Status { need_more, complete, violation };
  struct Result {
    Status status;
    // Bytes of the input that belong to the reply in progress (all of it for need_more; up to
    // and including the final CRLF for complete; those before the offending byte or header
    // line for a violation, so they may be handed to a parser safely).
    std::size_t consumed;
  };

  explicit ReplyScanner(ReplyLimits limits = {}) noexcept : limits_(limits) {}

  // Scans the next bytes of the stream. After complete, the next call starts a new reply.
  // After a violation every call returns the same violation (the stream is unusable).
  Result feed(std::string_view bytes);

  const ReplyLimits& limits() const noexcept { return limits_; }
  // Bytes of the reply in progress, or of the one that just completed.
  std::uint64_t reply_bytes() const noexcept { return reply_bytes_; }
  // Whether a reply has started and not yet completed.
  bool in_reply() const noexcept { return phase_ != Phase::type || !stack_empty(); }
  ReplyLimit violated_limit() const noexcept { return violated_; }
  // What broke it, e.g. "bulk string of 9999999999999 bytes announced".
  const std::string& violation_detail() const noexcept { return detail_; }

 private:
  enum class Phase { type, line, bulk_body, bulk_cr, bulk_lf, violated };

  bool stack_empty() const noexcept { return depth_ == 0; }
  void reset_for_next_reply() noexcept;
  // Each returns false after recording a violation.
  bool start_element(char type);
  bool take_line_byte(char byte);
  bool finish_line();
  bool finish_number_line(std::uint64_t value, bool negative);
  bool announce_bulk(std::uint64_t length);
  bool announce_array(std::uint64_t count);
  bool within_budget(std::uint64_t more);
  // One element (scalar, nil, empty array) finished: closes every array it completes.
  void element_done() noexcept;
  bool violate(ReplyLimit limit, std::string detail);

  ReplyLimits limits_;
  Phase phase_ = Phase::type;
  bool finished_ = false;  // the last feed completed a reply
  char line_type_ = 0;
  std::uint64_t line_length_ = 0;  // bytes of a status/error line so far
  bool line_saw_cr_ = false;
  std::array<char, 24> number_{};  // the digits of a ':', '$' or '*' line
  std::size_t number_length_ = 0;
  std::uint64_t bulk_left_ = 0;
  std::uint64_t bulk_length_ = 0;
  std::uint64_t reply_bytes_ = 0;
  // Minimum bytes still owed by elements announced but not started (kMinElementBytes each):
  // counted before a header is accepted, so nested arrays cannot each claim the whole budget.
  std::uint64_t owed_bytes_ = 0;
  // Elements still to start, per open array.
  std::array<std::uint64_t, 16> remaining_{};
  std::size_t depth_ = 0;
  ReplyLimit violated_ = ReplyLimit::malformed;
  std::string detail_;
};

}  // namespace poolkit::redis::detail
