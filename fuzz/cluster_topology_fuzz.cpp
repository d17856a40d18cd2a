// Fuzz target: what the cluster client reads from text it does not control — a node's error
// reply (MOVED / ASK redirects) — and the per-node URL it derives from the seed list.
//
// Invariants (a broken one traps, so libFuzzer saves the input):
// - parse_redirect returns; a redirect it finds came from text starting "MOVED " or "ASK ",
//   names a slot below 16384 and a port from 1 to 65535, and parsing its own canonical form
//   ("MOVED <slot> <host:port>") gives it back unchanged.
// - For any redis:// URL parse_url accepts, url_for_node gives a URL with exactly the node as its
//   one host and the same user, password, path and query: replacing the host list never
//   touches the credentials, however they are encoded.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "poolkit/error.hpp"
#include "poolkit/url.hpp"
#include "redis/cluster/topology.hpp"

namespace {

using poolkit::redis::detail::NodeAddress;
using poolkit::redis::detail::Redirect;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "cluster_topology_fuzz: %s\n", what);
  __builtin_trap();
}

void check_redirect(std::string_view text) {
  const auto redirect = poolkit::redis::detail::parse_redirect(text, "asked.example");
  if (!redirect) return;
  const bool moved = redirect->kind == Redirect::Kind::moved;
  if (!text.starts_with(moved ? "MOVED " : "ASK ")) fail("a redirect from other text");
  if (redirect->slot >= 16384) fail("a slot past 16383");
  if (redirect->target.port < 1 || redirect->target.port > 65535) fail("a port out of range");
  if (redirect->target.host.empty()) fail("an empty host (the asked node stands for it)");
  if (redirect->target.host.find(' ') != std::string::npos) return;  // not canonical
  const std::string canonical = std::string(moved ? "MOVED " : "ASK ") +
                                std::to_string(redirect->slot) + " " + redirect->target.text();
  const auto again = poolkit::redis::detail::parse_redirect(canonical, "other.example");
  if (!again || again->kind != redirect->kind || again->slot != redirect->slot ||
      !(again->target == redirect->target)) {
    fail("a redirect's canonical form does not parse back to it");
  }
}

void check_node_url(const std::string& text) {
  poolkit::Url seeds;
  try {
    seeds = poolkit::parse_url(text);
  } catch (const poolkit::ConfigError&) {
    return;
  }
  if (seeds.scheme != "redis" && seeds.scheme != "rediss") return;
  poolkit::Url one;
  try {
    one = poolkit::redis::detail::url_for_node(seeds, NodeAddress{"10.1.2.3", 7000});
  } catch (const poolkit::ConfigError&) {
    fail("a seed URL parse_url accepts gave a node URL it refuses");
  }
  if (one.hosts.size() != 1 || one.hosts[0].name != "10.1.2.3" || one.hosts[0].port != 7000) {
    fail("the node URL does not name exactly the node");
  }
  if (one.username != seeds.username || one.password != seeds.password || one.path != seeds.path ||
      one.query != seeds.query || one.scheme != seeds.scheme) {
    fail("the node URL changed the credentials, path, query or scheme");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_redirect(text);
  check_node_url(text);
  return 0;
}
