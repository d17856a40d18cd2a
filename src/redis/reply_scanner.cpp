#include "reply_scanner.hpp"

#include <algorithm>
#include <limits>

namespace poolkit::redis::detail {
namespace {

constexpr std::size_t kMaxNumberChars = 20;  // "-9223372036854775808"
constexpr std::uint64_t kSaturated = std::numeric_limits<std::uint64_t>::max();

std::string describe_byte(char byte) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto value = static_cast<unsigned char>(byte);
  std::string text = "0x";
  text += kHex[value >> 4];
  text += kHex[value & 0xf];
  if (value >= 0x21 && value <= 0x7e) {
    text += " ('";
    text += byte;
    text += "')";
  }
  return text;
}

std::string_view line_kind(char type) noexcept {
  switch (type) {
    case '+':
      return "status line";
    case '-':
      return "error line";
    case ':':
      return "integer";
    case '$':
      return "bulk string length";
    default:
      return "array length";
  }
}

// Digits to a number, saturating: a length too large to represent is still "too large".
std::uint64_t parse_digits(std::string_view digits) noexcept {
  std::uint64_t value = 0;
  for (const char digit : digits) {
    const auto d = static_cast<std::uint64_t>(digit - '0');
    if (value > (kSaturated - d) / 10) return kSaturated;
    value = value * 10 + d;
  }
  return value;
}

std::string number_text(std::uint64_t value) {
  return value == kSaturated ? "more than " + std::to_string(kSaturated) : std::to_string(value);
}

}  // namespace

std::string_view to_string(ReplyLimit limit) noexcept {
  switch (limit) {
    case ReplyLimit::reply_bytes:
      return "reply_bytes";
    case ReplyLimit::bulk_length:
      return "bulk_length";
    case ReplyLimit::array_length:
      return "array_length";
    case ReplyLimit::array_elements:
      return "array_elements";
    case ReplyLimit::line_length:
      return "line_length";
    case ReplyLimit::nesting:
      return "nesting";
    case ReplyLimit::malformed:
      return "malformed";
  }
  return "unknown";
}

ReplyScanner::Result ReplyScanner::feed(std::string_view bytes) {
  if (phase_ == Phase::violated) return {Status::violation, 0};
  if (finished_) reset_for_next_reply();
  std::size_t i = 0;
  while (i < bytes.size()) {
    const char byte = bytes[i];
    bool ok = true;
    switch (phase_) {
      case Phase::type:
        ok = within_budget(1) && start_element(byte);
        break;
      case Phase::line:
        ok = within_budget(1) && take_line_byte(byte);
        break;
      case Phase::bulk_body: {
        const auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(bulk_left_, bytes.size() - i));
        // Announced lengths were checked against the budget already; this cannot fail.
        if (!within_budget(take)) return {Status::violation, i};
        bulk_left_ -= take;
        i += take;
        if (bulk_left_ == 0) phase_ = Phase::bulk_cr;
        continue;
      }
      case Phase::bulk_cr:
      case Phase::bulk_lf: {
        const char expected = phase_ == Phase::bulk_cr ? '\r' : '\n';
        ok = within_budget(1);
        if (ok && byte != expected) {
          ok = violate(ReplyLimit::malformed, "bulk string of " + std::to_string(bulk_length_) +
                                                  " bytes ended by " + describe_byte(byte) +
                                                  " instead of CRLF");
        }
        if (ok && phase_ == Phase::bulk_cr) {
          phase_ = Phase::bulk_lf;
        } else if (ok) {
          phase_ = Phase::type;
          element_done();
        }
        break;
      }
      case Phase::violated:
        break;
    }
    if (!ok) return {Status::violation, i};
    ++i;
    if (phase_ == Phase::type && finished_) return {Status::complete, i};
  }
  return {Status::need_more, i};
}

void ReplyScanner::reset_for_next_reply() noexcept {
  finished_ = false;
  reply_bytes_ = 0;
  owed_bytes_ = 0;
  depth_ = 0;
}

bool ReplyScanner::within_budget(std::uint64_t more) {
  reply_bytes_ += more;
  if (reply_bytes_ + owed_bytes_ <= limits_.max_reply_bytes) return true;
  const std::string owed = owed_bytes_ == 0 ? std::string()
                                            : " (" + std::to_string(owed_bytes_) +
                                                  " more at least for elements announced)";
  return violate(ReplyLimit::reply_bytes, std::to_string(reply_bytes_) + " bytes received" + owed);
}

bool ReplyScanner::start_element(char type) {
  if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*') {
    return violate(ReplyLimit::malformed, "type byte " + describe_byte(type) +
                                              " where a reply starts; expected one of + - : $ *");
  }
  // Refused at its type byte, as hiredis refuses it (even "*0" or "*-1"), so that hiredis
  // never sees it.
  const std::size_t max_depth = std::min(limits_.max_depth, remaining_.size());
  if (type == '*' && depth_ == max_depth) {
    return violate(ReplyLimit::nesting,
                   "an array inside " + std::to_string(max_depth) + " nested arrays");
  }
  if (depth_ > 0) {
    // This element is one of the open array's: it no longer owes bytes, it brings them.
    --remaining_[depth_ - 1];
    owed_bytes_ -= kMinElementBytes;
  }
  phase_ = Phase::line;
  line_type_ = type;
  line_length_ = 0;
  line_saw_cr_ = false;
  number_length_ = 0;
  return true;
}

bool ReplyScanner::take_line_byte(char byte) {
  const bool text_line = line_type_ == '+' || line_type_ == '-';
  if (line_saw_cr_ && byte == '\n') return finish_line();
  if (!text_line) {
    if (line_saw_cr_) {
      return violate(ReplyLimit::malformed,
                     std::string(line_kind(line_type_)) + " has a CR not followed by LF");
    }
    if (byte == '\r') {
      line_saw_cr_ = true;
      return true;
    }
    const bool sign = byte == '-' && number_length_ == 0;
    if (!sign && (byte < '0' || byte > '9')) {
      return violate(ReplyLimit::malformed, std::string(line_kind(line_type_)) + " contains " +
                                                describe_byte(byte) + "; expected digits");
    }
    if (number_length_ == kMaxNumberChars) {
      return violate(ReplyLimit::malformed, std::string(line_kind(line_type_)) + " longer than " +
                                                std::to_string(kMaxNumberChars) + " characters");
    }
    number_[number_length_++] = byte;
    return true;
  }
  // A status or error line: any byte but the CRLF that ends it. A CR not followed by LF is
  // text (as hiredis reads it).
  line_saw_cr_ = byte == '\r';
  ++line_length_;  // a final CR included, hence the + 1 below
  if (line_length_ > limits_.max_line_bytes + 1) {
    return violate(ReplyLimit::line_length, std::string(line_kind(line_type_)) + " of more than " +
                                                std::to_string(limits_.max_line_bytes) +
                                                " bytes without its CRLF end");
  }
  return true;
}

bool ReplyScanner::finish_line() {
  phase_ = Phase::type;
  if (line_type_ == '+' || line_type_ == '-') {
    element_done();
    return true;
  }
  const std::string_view text(number_.data(), number_length_);
  const bool negative = !text.empty() && text.front() == '-';
  const std::string_view digits = negative ? text.substr(1) : text;
  if (digits.empty()) {
    return violate(ReplyLimit::malformed, std::string(line_kind(line_type_)) + " \"" +
                                              std::string(text) + "\" has no digits");
  }
  // As hiredis reads numbers: no leading zero, no "-0".
  if ((digits.size() > 1 && digits.front() == '0') || (negative && digits == "0")) {
    return violate(ReplyLimit::malformed, std::string(line_kind(line_type_)) + " \"" +
                                              std::string(text) +
                                              "\" has a leading zero; expected a plain number");
  }
  return finish_number_line(parse_digits(digits), negative);
}

bool ReplyScanner::finish_number_line(std::uint64_t value, bool negative) {
  if (line_type_ == ':') {
    const std::uint64_t largest =
        static_cast<std::uint64_t>(std::numeric_limits<long long>::max()) + (negative ? 1 : 0);
    if (value > largest) {
      return violate(ReplyLimit::malformed, "integer out of the 64-bit range");
    }
    element_done();
    return true;
  }
  if (negative) {
    if (value != 1) {
      return violate(ReplyLimit::malformed, std::string(line_kind(line_type_)) + " -" +
                                                number_text(value) +
                                                "; expected -1 (nil) or a length from 0");
    }
    element_done();  // nil
    return true;
  }
  return line_type_ == '$' ? announce_bulk(value) : announce_array(value);
}

bool ReplyScanner::announce_bulk(std::uint64_t length) {
  if (length > limits_.max_reply_bytes) {
    return violate(ReplyLimit::bulk_length,
                   "bulk string of " + number_text(length) + " bytes announced");
  }
  if (reply_bytes_ + owed_bytes_ + length + 2 > limits_.max_reply_bytes) {
    return violate(ReplyLimit::reply_bytes,
                   "bulk string of " + number_text(length) + " bytes announced after " +
                       std::to_string(reply_bytes_) + " bytes of the reply");
  }
  bulk_length_ = length;
  bulk_left_ = length;
  phase_ = length == 0 ? Phase::bulk_cr : Phase::bulk_body;
  return true;
}

bool ReplyScanner::announce_array(std::uint64_t count) {
  if (count > limits_.max_array_elements) {
    return violate(ReplyLimit::array_elements,
                   "array of " + number_text(count) + " elements announced");
  }
  if (reply_bytes_ + owed_bytes_ + count * kMinElementBytes > limits_.max_reply_bytes) {
    return violate(ReplyLimit::array_length,
                   "array of " + number_text(count) + " elements announced (at least " +
                       std::to_string(count * kMinElementBytes) + " bytes)");
  }
  if (count == 0) {
    element_done();
    return true;
  }
  remaining_[depth_++] = count;
  owed_bytes_ += count * kMinElementBytes;
  return true;
}

void ReplyScanner::element_done() noexcept {
  while (depth_ > 0 && remaining_[depth_ - 1] == 0) --depth_;
  if (depth_ == 0) finished_ = true;
}

bool ReplyScanner::violate(ReplyLimit limit, std::string detail) {
  phase_ = Phase::violated;
  violated_ = limit;
  detail_ = std::move(detail);
  return false;
}

}  // namespace poolkit::redis::detail
