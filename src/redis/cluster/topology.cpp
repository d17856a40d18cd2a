#include "topology.hpp"

#include <fmt/format.h>

#include <charconv>

#include "poolkit/error.hpp"

namespace poolkit::redis::detail {
namespace {

[[noreturn]] void malformed(std::string_view command, std::string_view what) {
  throw ProtocolError(Backend::redis,
                      fmt::format("the cluster's {} reply is malformed: {}; is this a Redis "
                                  "Cluster node (cluster-enabled yes)?",
                                  command, what));
}

// A node that does not know how others reach it announces "" or "?": it is the one asked.
std::string host_or_asked(std::string_view host, std::string_view asked_host) {
  return host.empty() || host == "?" ? std::string(asked_host) : std::string(host);
}

std::uint16_t slot_number(const Reply& reply, std::string_view command) {
  const long long value = reply.as_integer();
  if (value < 0 || value >= 16384) malformed(command, "a slot number outside 0..16383");
  return static_cast<std::uint16_t>(value);
}

// One node of CLUSTER SHARDS: a flat array of field names and values.
struct ShardNode {
  NodeAddress address;
  bool master = false;
  bool failed = false;
};

ShardNode parse_shard_node(const Reply& reply, std::string_view asked_host, bool tls) {
  const auto& fields = reply.as_array();
  std::string ip, endpoint;
  long long port = 0, tls_port = 0;
  ShardNode node;
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].as_string();
    const Reply& value = fields[i + 1];
    if (name == "ip") ip = value.as_string();
    if (name == "endpoint") endpoint = value.as_string();
    if (name == "port") port = value.as_integer();
    if (name == "tls-port") tls_port = value.as_integer();
    if (name == "role") node.master = value.as_string() == "master";
    if (name == "health") node.failed = value.as_string() == "fail";
  }
  // The endpoint is what the cluster wants clients to use (cluster-preferred-endpoint-type).
  node.address.host =
      host_or_asked(endpoint.empty() || endpoint == "?" ? ip : endpoint, asked_host);
  // A node may listen on both; a rediss:// client wants its TLS port (tls-cluster yes announces
  // only that one).
  const long long preferred = tls ? tls_port : port;
  node.address.port = static_cast<int>(preferred != 0 ? preferred : (tls ? port : tls_port));
  if (node.address.port <= 0 || node.address.port > 65535) {
    malformed("CLUSTER SHARDS", "a node without a valid port");
  }
  return node;
}

}  // namespace

std::string NodeAddress::text() const {
  const bool is_ipv6 = host.find(':') != std::string::npos;
  return is_ipv6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::vector<ShardInfo> parse_cluster_shards(const Reply& reply, std::string_view asked_host,
                                            bool tls) {
  std::vector<ShardInfo> shards;
  for (const Reply& shard_reply : reply.as_array()) {
    const auto& fields = shard_reply.as_array();
    ShardInfo shard;
    bool has_master = false;
    bool master_failed = false;
    for (std::size_t i = 0; i + 1 < fields.size(); i += 2) {
      const std::string& name = fields[i].as_string();
      const auto& value = fields[i + 1].as_array();
      if (name == "slots") {
        if (value.size() % 2 != 0) malformed("CLUSTER SHARDS", "an odd number of slot bounds");
        for (std::size_t s = 0; s + 1 < value.size(); s += 2) {
          shard.slots.push_back({slot_number(value[s], "CLUSTER SHARDS"),
                                 slot_number(value[s + 1], "CLUSTER SHARDS")});
        }
      } else if (name == "nodes") {
        for (const Reply& node_reply : value) {
          const ShardNode node = parse_shard_node(node_reply, asked_host, tls);
          // A failed master may still be listed next to the replica promoted in its place.
          const bool replaces = !has_master || (master_failed && !node.failed);
          if (node.master && replaces) {
            shard.master = node.address;
            has_master = true;
            master_failed = node.failed;
          } else if (!node.master && !node.failed) {
            shard.replicas.push_back(node.address);
          }
        }
      }
    }
    // A shard without slots (a fresh node, a master whose slots all moved) serves nothing.
    if (has_master && !shard.slots.empty()) shards.push_back(std::move(shard));
  }
  return shards;
}

std::vector<ShardInfo> parse_cluster_slots(const Reply& reply, std::string_view asked_host) {
  std::vector<ShardInfo> shards;
  for (const Reply& range_reply : reply.as_array()) {
    const auto& range = range_reply.as_array();
    if (range.size() < 3) malformed("CLUSTER SLOTS", "a slot range without its master");
    ShardInfo shard;
    shard.slots.push_back(
        {slot_number(range[0], "CLUSTER SLOTS"), slot_number(range[1], "CLUSTER SLOTS")});
    for (std::size_t i = 2; i < range.size(); ++i) {
      const auto& node = range[i].as_array();
      if (node.size() < 2) malformed("CLUSTER SLOTS", "a node without host and port");
      NodeAddress address{host_or_asked(node[0].as_string(), asked_host),
                          static_cast<int>(node[1].as_integer())};
      if (i == 2) {
        shard.master = std::move(address);
      } else {
        shard.replicas.push_back(std::move(address));
      }
    }
    shards.push_back(std::move(shard));
  }
  return shards;
}

std::optional<Redirect> parse_redirect(std::string_view text, std::string_view asked_host) {
  Redirect redirect;
  if (text.starts_with("MOVED ")) {
    redirect.kind = Redirect::Kind::moved;
    text.remove_prefix(6);
  } else if (text.starts_with("ASK ")) {
    redirect.kind = Redirect::Kind::ask;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  unsigned slot = 0;
  const auto slot_text = text.substr(0, space);
  if (std::from_chars(slot_text.data(), slot_text.data() + slot_text.size(), slot).ec !=
          std::errc{} ||
      slot >= 16384) {
    return std::nullopt;
  }
  redirect.slot = static_cast<std::uint16_t>(slot);
  std::string_view address = text.substr(space + 1);
  address = address.substr(0, address.find(' '));  // a ServerError adds " (Redis at ...)"
  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  const auto port_text = address.substr(colon + 1);
  if (std::from_chars(port_text.data(), port_text.data() + port_text.size(), port).ec !=
          std::errc{} ||
      port <= 0 || port > 65535) {
    return std::nullopt;
  }
  redirect.target = NodeAddress{host_or_asked(host, asked_host), port};
  return redirect;
}

bool is_retry_later(std::string_view text) noexcept {
  return text.starts_with("TRYAGAIN") || text.starts_with("CLUSTERDOWN");
}

Url url_for_node(const Url& seeds, const NodeAddress& node) {
  // The host list lies between "://" (and any user info up to the last '@' before the path)
  // and the path or query; everything around it is kept byte for byte, encodings included.
  const std::string& text = seeds.text;
  const auto scheme_end = text.find("://");
  const std::size_t start = scheme_end == std::string::npos ? 0 : scheme_end + 3;
  std::size_t end = text.find_first_of("/?", start);
  if (end == std::string::npos) end = text.size();
  const auto at = text.rfind('@', end);
  const std::size_t hosts_start = at != std::string::npos && at >= start ? at + 1 : start;
  std::string one = text.substr(0, hosts_start) + node.text() + text.substr(end);
  return parse_url(one);
}

}  // namespace poolkit::redis::detail
