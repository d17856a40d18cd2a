#pragma once
// A Redis command's words (Arg) and reply (Reply), and the typed helpers every Redis client
// shares (Commands): get/set, counters, hashes, lists, sets. redis.hpp includes this header.
//
// The helpers are written once, over the one call a client provides:
//
//   class MyClient : public poolkit::redis::Commands<MyClient> {
//    public:
//     using Commands<MyClient>::command;          // command("GET", key), command(words)
//     Reply command(std::span<const Arg> args);   // sends one command, throws on error replies
//   };
//
// Each helper builds its command's words, passes them to that command() and converts the reply.
// Everything else a client does with a command (the pooled client's retries, ClusterClient's
// routing and splitting by slot, SentinelClient's failover) happens inside its command().
//
// Adding a client is the line deriving from Commands<MyClient>; the using-declaration is needed
// only for the other forms of command(), which its own command() would otherwise hide. The
// definitions are here, inline, so nothing is instantiated elsewhere. Likewise a client that
// declares its own member named like a helper (an asynchronous get(), say) hides the helper of
// that name; `using Commands<MyClient>::get;` brings it back beside its own.

#include <algorithm>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace poolkit::redis {

// ---------------------------------------------------------------------------------------------
// Arguments and replies

// One command argument: text (viewed, not copied: it must outlive the call) or an integer.
class Arg {
 public:
  Arg(const char* text) noexcept : text_(text) {}         // NOLINT: implicit by design
  Arg(std::string_view text) noexcept : text_(text) {}    // NOLINT
  Arg(const std::string& text) noexcept : text_(text) {}  // NOLINT
  template <std::integral Int>
  requires(!std::same_as<Int, char> && !std::same_as<Int, bool>) Arg(Int number)
  noexcept {  // NOLINT
    number_length_ = format_number(static_cast<long long>(number), digits_);
  }

  std::string_view view() const noexcept {
    return number_length_ != 0 ? std::string_view(digits_, number_length_) : text_;
  }

 private:
  static unsigned char format_number(long long number, char (&out)[24]) noexcept;
  std::string_view text_;
  char digits_[24] = {};
  unsigned char number_length_ = 0;
};

// A RESP2 reply: nil, integer, bulk string, status ("OK"), error ("WRONGTYPE ...") or array.
class Reply {
 public:
  enum class Type { nil, integer, string, status, error, array };

  Reply() = default;  // nil
  static Reply integer(long long value);
  static Reply string(std::string value);
  static Reply status(std::string value);
  static Reply error(std::string value);
  static Reply array(std::vector<Reply> elements);

  Type type() const noexcept { return type_; }
  bool is_nil() const noexcept { return type_ == Type::nil; }
  bool is_error() const noexcept { return type_ == Type::error; }

  // Each accessor throws ProtocolError naming the type it found when the reply is another type.
  long long as_integer() const;
  const std::string& as_string() const;                   // a bulk string or a status
  std::optional<std::string> as_optional_string() const;  // nil → nullopt
  const std::string& error_text() const;
  const std::vector<Reply>& as_array() const;

  bool operator==(const Reply&) const = default;

 private:
  Type type_ = Type::nil;
  long long integer_ = 0;
  std::string text_;
  std::vector<Reply> elements_;
};

std::string_view to_string(Reply::Type type) noexcept;

// Whether repeating this command gives the same result, so it may be retried after it was
// written (reads, SET without NX/GET, DEL, EXPIRE, HSET, ...; never INCR, LPUSH, ...).
bool is_idempotent(std::span<const Arg> command) noexcept;

// INFO, by section (lower case: "server", "clients", "memory", "stats", ...) and key.
struct Info {
  std::map<std::string, std::map<std::string, std::string, std::less<>>, std::less<>> sections;

  std::optional<std::string_view> get(std::string_view section, std::string_view key) const;
  // The key in whichever section holds it.
  std::optional<std::string_view> find(std::string_view key) const;
};
Info parse_info(std::string_view text);
// ---------------------------------------------------------------------------------------------
// The words of the typed helpers' commands

enum class SetCondition { always, if_not_exists /* NX */, if_exists /* XX */ };

struct SetOptions {
  // Expiry; 0 = none. Whole seconds are sent as EX, anything else as PX.
  std::chrono::milliseconds ttl{0};
  SetCondition condition = SetCondition::always;
};

// SET key value [EX s | PX ms] [NX | XX]: the command every client's set() sends. The key and
// value are viewed, not copied.
std::vector<Arg> set_command(std::string_view key, std::string_view value, SetOptions options);

// Text a multi-key helper accepts: std::string, std::string_view, const char*, ...
template <class Range>
concept StringRange = std::ranges::input_range<Range> &&
    std::convertible_to<std::ranges::range_reference_t<Range>, std::string_view>;

// Pairs a multi-key helper accepts (std::map<std::string, std::string>, a vector of pairs, ...).
template <class Range>
concept StringPairRange = std::ranges::input_range<Range> &&
    requires(std::ranges::range_reference_t<Range> pair) {
  { std::get<0>(pair) } -> std::convertible_to<std::string_view>;
  { std::get<1>(pair) } -> std::convertible_to<std::string_view>;
};

namespace detail {
// A command's arguments: a fixed head, then the words of a range. Words the range yields as
// temporaries (a transforming view) are kept here, since an Arg only views its text.
class CommandWords {
 public:
  template <class Range>
  CommandWords(std::initializer_list<Arg> head, Range&& words) : args_(head) {
    for (auto&& word : words) add(std::forward<decltype(word)>(word));
  }
  template <class Range>
  CommandWords(std::initializer_list<Arg> head, Range&& pairs, std::in_place_t) : args_(head) {
    for (auto&& pair : pairs) {
      add(std::get<0>(std::forward<decltype(pair)>(pair)));
      add(std::get<1>(std::forward<decltype(pair)>(pair)));
    }
  }
  std::span<const Arg> args() const noexcept { return args_; }

 private:
  template <class Word>
  void add(Word&& word) {
    using Plain = std::remove_cvref_t<Word>;
    constexpr bool only_views = std::is_same_v<Plain, std::string_view> ||
                                std::is_pointer_v<std::decay_t<Word>> || std::is_array_v<Plain>;
    if constexpr (std::is_lvalue_reference_v<Word> || only_views) {
      args_.emplace_back(std::string_view(word));
    } else {
      args_.emplace_back(std::string_view(owned_.emplace_back(std::forward<Word>(word))));
    }
  }
  std::vector<Arg> args_;
  std::deque<std::string> owned_;  // a deque: its elements stay where they are as it grows
};
}  // namespace detail

// Each element of an array reply as a string, nil as nullopt (MGET's reply).
std::vector<std::optional<std::string>> optional_strings_of(const Reply& reply);
// Each element of an array reply as a string (LRANGE's, SMEMBERS' reply).
std::vector<std::string> strings_of(const Reply& reply);
// A flat array reply of field, value, field, value, ... as a map (HGETALL's reply).
std::map<std::string, std::string> string_map_of(const Reply& reply);

// ---------------------------------------------------------------------------------------------
// The typed helpers

// Text and pairs a multi-word helper takes when the caller writes a braced list: `del({"a",
// "b"})` leaves the range's type undeduced, so it is the default below.
using WordList = std::initializer_list<std::string_view>;
using PairList = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Derived (the client) provides `Reply command(std::span<const Arg>)`, public; see the top of
// this file. Every helper throws what that command() throws (ServerError on an error reply, ...).
template <class Derived>
class Commands {
 public:
  // Any command, as words known at compile time (`command("OBJECT", "ENCODING", key)`) or
  // built at run time; both go to Derived's command(std::span<const Arg>).
  template <class... Args>
  requires(sizeof...(Args) > 0 && (std::constructible_from<Arg, const Args&> && ...)) Reply
      command(const Args&... args) {
    const Arg argv[] = {Arg(args)...};
    return call(argv);
  }
  Reply command(std::span<const std::string> words) {
    const std::vector<Arg> args(words.begin(), words.end());
    return call(args);
  }

  // Strings and keys
  std::optional<std::string> get(std::string_view key) {
    return run({"GET", key}).as_optional_string();
  }
  // false when the NX / XX condition was not met.
  bool set(std::string_view key, std::string_view value, SetOptions options = {}) {
    return !call(set_command(key, value, options)).is_nil();
  }
  // The multi-word helpers take a braced list or any range of text (a std::vector<std::string>,
  // a std::set, a view, ...); the pair helpers a braced list of pairs or a range of pairs (a
  // std::map, ...).
  template <StringRange Keys = WordList>
  long long del(Keys&& keys) {
    return count({"DEL"}, std::forward<Keys>(keys));
  }
  template <StringRange Keys = WordList>
  long long exists(Keys&& keys) {
    return count({"EXISTS"}, std::forward<Keys>(keys));
  }
  long long incr(std::string_view key, long long by = 1) {
    return (by == 1 ? run({"INCR", key}) : run({"INCRBY", key, by})).as_integer();
  }
  long long decr(std::string_view key, long long by = 1) {
    return (by == 1 ? run({"DECR", key}) : run({"DECRBY", key, by})).as_integer();
  }
  bool expire(std::string_view key, std::chrono::seconds ttl) {
    return run({"EXPIRE", key, ttl.count()}).as_integer() == 1;
  }
  // Seconds left; -1 when the key has no expiry, -2 when it does not exist (as TTL).
  long long ttl(std::string_view key) { return run({"TTL", key}).as_integer(); }
  template <StringRange Keys = WordList>
  std::vector<std::optional<std::string>> mget(Keys&& keys) {
    return optional_strings_of(call(detail::CommandWords({"MGET"}, std::forward<Keys>(keys))));
  }
  template <StringPairRange Pairs = PairList>
  void mset(Pairs&& pairs) {
    call(detail::CommandWords({"MSET"}, std::forward<Pairs>(pairs), std::in_place));
  }

  // Hashes
  bool hset(std::string_view key, std::string_view field, std::string_view value) {  // new?
    return run({"HSET", key, field, value}).as_integer() == 1;
  }
  template <StringPairRange Fields = PairList>
  long long hset(std::string_view key, Fields&& fields) {
    return call(detail::CommandWords({"HSET", key}, std::forward<Fields>(fields), std::in_place))
        .as_integer();
  }
  std::optional<std::string> hget(std::string_view key, std::string_view field) {
    return run({"HGET", key, field}).as_optional_string();
  }
  std::map<std::string, std::string> hgetall(std::string_view key) {
    return string_map_of(run({"HGETALL", key}));
  }
  template <StringRange Fields = WordList>
  long long hdel(std::string_view key, Fields&& fields) {
    return count({"HDEL", key}, std::forward<Fields>(fields));
  }
  long long hincrby(std::string_view key, std::string_view field, long long by) {
    return run({"HINCRBY", key, field, by}).as_integer();
  }
  bool hexists(std::string_view key, std::string_view field) {
    return run({"HEXISTS", key, field}).as_integer() == 1;
  }

  // Lists
  template <StringRange Values = WordList>
  long long lpush(std::string_view key, Values&& values) {
    return count({"LPUSH", key}, std::forward<Values>(values));
  }
  template <StringRange Values = WordList>
  long long rpush(std::string_view key, Values&& values) {
    return count({"RPUSH", key}, std::forward<Values>(values));
  }
  std::optional<std::string> lpop(std::string_view key) {
    return run({"LPOP", key}).as_optional_string();
  }
  std::optional<std::string> rpop(std::string_view key) {
    return run({"RPOP", key}).as_optional_string();
  }
  std::vector<std::string> lrange(std::string_view key, long long start, long long stop) {
    return strings_of(run({"LRANGE", key, start, stop}));
  }
  long long llen(std::string_view key) { return run({"LLEN", key}).as_integer(); }

  // Sets
  template <StringRange Members = WordList>
  long long sadd(std::string_view key, Members&& members) {
    return count({"SADD", key}, std::forward<Members>(members));
  }
  template <StringRange Members = WordList>
  long long srem(std::string_view key, Members&& members) {
    return count({"SREM", key}, std::forward<Members>(members));
  }
  std::vector<std::string> smembers(std::string_view key) {  // sorted
    std::vector<std::string> members = strings_of(run({"SMEMBERS", key}));
    std::sort(members.begin(), members.end());
    return members;
  }
  bool sismember(std::string_view key, std::string_view member) {
    return run({"SISMEMBER", key, member}).as_integer() == 1;
  }
  long long scard(std::string_view key) { return run({"SCARD", key}).as_integer(); }

 protected:
  Commands() = default;
  ~Commands() = default;

 private:
  Reply call(std::span<const Arg> args) { return static_cast<Derived&>(*this).command(args); }
  Reply call(const detail::CommandWords& words) { return call(words.args()); }
  Reply run(std::initializer_list<Arg> words) {
    return call(std::span<const Arg>(words.begin(), words.size()));
  }
  // `head`, then each word of the range: a command answering with a count.
  template <class Words>
  long long count(std::initializer_list<Arg> head, Words&& words) {
    return call(detail::CommandWords(head, std::forward<Words>(words))).as_integer();
  }
};

}  // namespace poolkit::redis
