#pragma once
// The GET workload of `poolkit bench redis --mode cluster|sentinel`, over any client with
// get(key) and set(key, value): 1,024 keys whose slots cover every master of a cluster, each
// thread walking them from its own start so the masters share the load. The client type
// supplies how many connections it opened and has in use (a sum over the nodes for a cluster,
// the master's pool for Sentinel).

#include <fmt/format.h>

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench_runner.hpp"

namespace poolkit::cli {

// Enough keys that each of the 16384 slots' owners gets its share, few enough to set at once.
inline constexpr int kSpreadBenchKeys = 1024;
// Three bytes, like redis-benchmark's default value, so both measure the same reply.
inline constexpr std::string_view kSpreadBenchValue = "xxx";

inline std::vector<std::string> spread_bench_keys() {
  std::vector<std::string> keys;
  keys.reserve(kSpreadBenchKeys);
  for (int i = 0; i < kSpreadBenchKeys; ++i) keys.push_back(fmt::format("poolkit:bench:{}", i));
  return keys;
}

// `client` must already hold the keys (the caller sets them the way its topology does best).
template <class Client, class Opened, class InUse>
Workload spread_keys_workload(const std::shared_ptr<Client>& client,
                              const std::shared_ptr<const std::vector<std::string>>& keys,
                              Opened connections_opened, InUse in_use) {
  ThreadWorkload threads{
      .make_worker = [client, keys](int worker) -> std::function<void()> {
        // A prime stride apart, so threads do not move over the same keys in step.
        auto next = std::make_shared<std::size_t>(static_cast<std::size_t>(worker) * 7919);
        return [client, keys, next] {
          const std::string& key = (*keys)[(*next)++ % keys->size()];
          // A node restarted without persistence lost the key: a miss, not an outage.
          if (!client->get(key)) client->set(key, kSpreadBenchValue);
        };
      },
      .connections_opened = [client, connections_opened] { return connections_opened(*client); },
  };
  Workload workload{.run = std::move(threads)};
  workload.in_use = [client, in_use] { return in_use(*client); };
  return workload;
}

}  // namespace poolkit::cli
