#pragma once
// Redis Cluster's key → slot mapping (the cluster specification): CRC16 (XMODEM) of the key, or
// of its hash tag, modulo 16384. Keys sharing a hash tag ({user42}.cart, {user42}.orders) land
// in one slot, which is what makes multi-key commands and transactions possible in a cluster.

#include <cstdint>
#include <string_view>

namespace poolkit::redis::detail {

inline constexpr std::uint16_t kClusterSlots = 16384;

// CRC16-CCITT as Redis Cluster uses it: polynomial 0x1021, initial value 0, no reflection.
std::uint16_t crc16_xmodem(std::string_view bytes) noexcept;

// The part of `key` that is hashed: the text between the first '{' and the first '}' after
// it, when that text is not empty; else the whole key.
std::string_view hash_tag(std::string_view key) noexcept;

// The slot (0..16383) that owns `key`.
std::uint16_t key_slot(std::string_view key) noexcept;

}  // namespace poolkit::redis::detail
