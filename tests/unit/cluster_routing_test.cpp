// Redis Cluster routing logic without a server: key slots (values from the cluster
// specification's CRC16 definition), hash tags, and where each command's keys are.

#include <gtest/gtest.h>

#include <vector>

#include "redis/cluster/command_keys.hpp"
#include "redis/cluster/key_slot.hpp"

namespace poolkit::redis::detail {
namespace {

std::vector<Arg> args(std::initializer_list<const char*> words) {
  return std::vector<Arg>(words.begin(), words.end());
}

TEST(KeySlot, Crc16IsTheXmodemVariantTheClusterSpecNames) {
  // The specification's check value: CRC16/XMODEM("123456789") = 0x31C3.
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);
  EXPECT_EQ(crc16_xmodem(""), 0);
}

TEST(KeySlot, SlotsAreTheCrcModulo16384) {
  EXPECT_EQ(key_slot("123456789"), 0x31C3 % 16384);
  // Values redis-server's CLUSTER KEYSLOT gives.
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot(""), 0);
}

TEST(KeySlot, AHashTagIsTheTextInTheFirstNonEmptyBraces) {
  EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  // Empty braces, or no closing brace: the whole key is hashed.
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");
  EXPECT_EQ(hash_tag("foo{bar"), "foo{bar");
  // Only the first '{' counts, up to the first '}' after it.
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");
}

TEST(CommandRouting, SingleKeyCommandsRouteByTheirFirstArgument) {
  const auto command = args({"get", "k"});
  const CommandRouting routing = route_of(command);
  EXPECT_TRUE(routing.known);
  EXPECT_TRUE(routing.read_only);
  EXPECT_EQ(routing.key_indexes, (std::vector<std::size_t>{1}));
  EXPECT_FALSE(route_of(args({"SET", "k", "v"})).read_only);
  EXPECT_TRUE(route_of(args({"PING"})).key_indexes.empty());
}

TEST(CommandRouting, MultiKeyShapesFindEveryKey) {
  EXPECT_EQ(route_of(args({"MGET", "a", "b", "c"})).key_indexes,
            (std::vector<std::size_t>{1, 2, 3}));
  const auto mset = route_of(args({"MSET", "a", "1", "b", "2"}));
  EXPECT_EQ(mset.key_indexes, (std::vector<std::size_t>{1, 3}));
  EXPECT_EQ(mset.key_stride, 2u);
  EXPECT_EQ(mset.split, SplitKind::all_ok);
  EXPECT_EQ(route_of(args({"BLPOP", "a", "b", "0"})).key_indexes, (std::vector<std::size_t>{1, 2}));
  EXPECT_EQ(route_of(args({"EVAL", "return 1", "2", "a", "b", "arg"})).key_indexes,
            (std::vector<std::size_t>{3, 4}));
  EXPECT_EQ(route_of(args({"ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"})).key_indexes,
            (std::vector<std::size_t>{1, 3, 4}));
  EXPECT_EQ(route_of(args({"BITOP", "AND", "d", "a", "b"})).key_indexes,
            (std::vector<std::size_t>{2, 3, 4}));
  EXPECT_EQ(route_of(args({"RENAME", "a", "b"})).key_indexes, (std::vector<std::size_t>{1, 2}));
  // A numkeys that is not a number, or larger than the arguments: only what is there.
  EXPECT_TRUE(route_of(args({"EVAL", "s", "x", "a"})).key_indexes.empty());
  EXPECT_EQ(route_of(args({"EVAL", "s", "5", "a"})).key_indexes, (std::vector<std::size_t>{3}));
}

TEST(CommandRouting, SplittableCommandsSayHowTheirRepliesCombine) {
  EXPECT_EQ(route_of(args({"MGET", "a"})).split, SplitKind::concat_values);
  EXPECT_EQ(route_of(args({"DEL", "a"})).split, SplitKind::sum_integers);
  EXPECT_EQ(route_of(args({"EXISTS", "a"})).split, SplitKind::sum_integers);
  // MSETNX is all or nothing: split, it could set some keys and not others.
  EXPECT_EQ(route_of(args({"MSETNX", "a", "1"})).split, SplitKind::none);
  EXPECT_EQ(route_of(args({"SINTERSTORE", "d", "a"})).split, SplitKind::none);
}

TEST(CommandRouting, UnknownCommandsRouteByTheirFirstArgument) {
  const CommandRouting routing = route_of(args({"JSON.GET", "doc", "$"}));
  EXPECT_FALSE(routing.known);
  EXPECT_EQ(routing.key_indexes, (std::vector<std::size_t>{1}));
}

TEST(CommandRouting, CommonSlotTellsOneSlotFromSpanningSlots) {
  bool spans = false;
  const auto together = args({"MGET", "{u1}.a", "{u1}.b"});
  EXPECT_EQ(common_slot(together, route_of(together), spans), key_slot("u1"));
  EXPECT_FALSE(spans);
  const auto apart = args({"MGET", "foo", "bar"});
  EXPECT_FALSE(common_slot(apart, route_of(apart), spans).has_value());
  EXPECT_TRUE(spans);
  const auto keyless = args({"PING"});
  EXPECT_FALSE(common_slot(keyless, route_of(keyless), spans).has_value());
  EXPECT_FALSE(spans);
}

}  // namespace
}  // namespace poolkit::redis::detail
