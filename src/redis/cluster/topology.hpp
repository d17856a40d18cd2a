#pragma once
// What a cluster says about itself: the slot map from CLUSTER SHARDS (Redis 7+) or CLUSTER
// SLOTS (older), and the redirects and "try later" answers a node gives for a key it does not
// serve now. Pure parsing, tested without a server.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "poolkit/redis.hpp"
#include "poolkit/url.hpp"

namespace poolkit::redis::detail {

struct NodeAddress {
  std::string host;
  int port = 0;

  // host:port, an IPv6 host in brackets.
  std::string text() const;
  bool operator==(const NodeAddress&) const = default;
  bool operator<(const NodeAddress& other) const {
    return std::tie(host, port) < std::tie(other.host, other.port);
  }
};

struct SlotRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;  // inclusive
};

struct ShardInfo {
  NodeAddress master;
  std::vector<NodeAddress> replicas;
  std::vector<SlotRange> slots;
};

// The shards of a CLUSTER SHARDS reply that serve slots; nodes marked failed are left out of the
// replicas. `asked` is the node that answered: a node announcing no address ("" or "?") is it.
// `tls`: the client speaks TLS, so a node's tls-port is taken over its port. Throws
// ProtocolError naming what is malformed.
std::vector<ShardInfo> parse_cluster_shards(const Reply& reply, std::string_view asked_host,
                                            bool tls = false);
// The same from CLUSTER SLOTS: [[first, last, [host, port, id], [replica...]...], ...].
std::vector<ShardInfo> parse_cluster_slots(const Reply& reply, std::string_view asked_host);

struct Redirect {
  enum class Kind { moved, ask };
  Kind kind = Kind::moved;
  std::uint16_t slot = 0;
  NodeAddress target;
};

// "MOVED 3999 127.0.0.1:6381" or "ASK 3999 127.0.0.1:6381" (the start of an error reply or of a
// ServerError's message); nullopt for any other text. An empty host means the node asked.
std::optional<Redirect> parse_redirect(std::string_view error_text, std::string_view asked_host);

// TRYAGAIN (a multi-key command during a slot migration) or CLUSTERDOWN (no quorum, a slot
// unserved, a failover in progress): the same command may succeed a little later.
bool is_retry_later(std::string_view error_text) noexcept;

// The URL with its host list replaced by one node, everything else (credentials, database,
// options, scheme) as written: what each node's client is built from.
Url url_for_node(const Url& seeds, const NodeAddress& node);

}  // namespace poolkit::redis::detail
