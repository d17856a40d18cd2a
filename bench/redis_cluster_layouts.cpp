// Where the pooled Redis Cluster client's CPU per command goes (docs/benchmarks.md, "Redis
// Cluster"): the GET loop of `poolkit bench redis --mode cluster` (1,024 keys, each thread from
// its own start) through one of three layouts, with the process's CPU time per command:
//
//   cluster   redis::ClusterClient on the cluster at URL
//   by-hand   one plain redis::Client per master of that cluster (MASTER_URL..., one per master),
//             each key sent to its slot's master by the caller: no cluster code on the way
//   servers   one plain redis::Client per URL (standalone servers, or one URL given several
//             times), key i on URL i % N
//
// Usage: poolkit_redis_cluster_layouts cluster|by-hand|servers THREADS SECONDS URL [MASTER_URL...]
// Each client's pool holds THREADS connections, as `--pool-size THREADS` does. Prints
// "layout ops_per_sec cpu_us_per_op user_us_per_op".

#include <fmt/format.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "poolkit/redis.hpp"
#include "poolkit/redis_cluster.hpp"

namespace {

using poolkit::redis::Client;
using poolkit::redis::ClusterClient;

struct CpuTime {
  double total_s = 0;
  double user_s = 0;
};

CpuTime cpu_time() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
  return {seconds(usage.ru_utime) + seconds(usage.ru_stime), seconds(usage.ru_utime)};
}

std::vector<std::string> bench_keys() {  // the keys of `poolkit bench redis --mode cluster`
  std::vector<std::string> keys;
  for (int i = 0; i < 1024; ++i) keys.push_back(fmt::format("poolkit:bench:{}", i));
  return keys;
}

// The plain client of the master at "host:port", among the URLs given (matched by that text).
Client* client_of_master(const std::string& address, const std::vector<std::string>& urls,
                         std::map<std::string, std::unique_ptr<Client>>& clients,
                         const poolkit::redis::Options& options) {
  auto& client = clients[address];
  if (!client) {
    for (const std::string& url : urls) {
      if (url.find("@" + address + "/") != std::string::npos ||
          url.find("//" + address + "/") != std::string::npos) {
        client = std::make_unique<Client>(url, options);
      }
    }
    if (!client) throw std::runtime_error(fmt::format("no MASTER_URL names master {}", address));
  }
  return client.get();
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 5) {
    std::fputs(
        "usage: poolkit_redis_cluster_layouts cluster|by-hand|servers THREADS SECONDS URL "
        "[MASTER_URL...]\n",
        stderr);
    return 2;
  }
  const std::string layout = argv[1];
  const int threads = std::stoi(argv[2]);
  const double seconds = std::stod(argv[3]);
  const std::vector<std::string> urls(argv + 4, argv + argc);
  poolkit::redis::Options options;
  options.max_connections = static_cast<std::size_t>(threads);

  const std::vector<std::string> keys = bench_keys();
  std::unique_ptr<ClusterClient> cluster;
  std::vector<std::unique_ptr<Client>> servers;
  std::map<std::string, std::unique_ptr<Client>> masters;
  std::vector<Client*> client_of_key(keys.size(), nullptr);
  if (layout == "cluster" || layout == "by-hand") {
    cluster = std::make_unique<ClusterClient>(urls.front(),
                                              poolkit::redis::ClusterOptions{.node = options});
    for (const std::string& key : keys) cluster->set(key, "xxx");
    if (layout == "by-hand") {
      const std::vector<std::string> master_urls(urls.begin() + 1, urls.end());
      for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto slot = cluster->command("CLUSTER", "KEYSLOT", keys[i]).as_integer();
        client_of_key[i] =
            client_of_master(cluster->master_address(static_cast<std::uint16_t>(slot)), master_urls,
                             masters, options);
      }
    }
  } else if (layout == "servers") {
    for (const std::string& url : urls) servers.push_back(std::make_unique<Client>(url, options));
    for (std::size_t i = 0; i < keys.size(); ++i) {
      client_of_key[i] = servers[i % servers.size()].get();
      client_of_key[i]->set(keys[i], "xxx");
    }
  } else {
    throw std::runtime_error(
        fmt::format("unknown layout {:?}: cluster, by-hand or servers", layout));
  }

  std::atomic<bool> stop{false};
  std::atomic<long> done{0};
  const CpuTime before = cpu_time();
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> workers;
  for (int worker = 0; worker < threads; ++worker) {
    workers.emplace_back([&, worker] {
      // A prime stride apart, as the bench's threads.
      std::size_t next = static_cast<std::size_t>(worker) * 7919;
      long count = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const std::size_t i = next++ % keys.size();
        if (client_of_key[i] != nullptr) {
          (void)client_of_key[i]->get(keys[i]);
        } else {
          (void)cluster->get(keys[i]);
        }
        ++count;
      }
      done.fetch_add(count);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& worker : workers) worker.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const CpuTime after = cpu_time();
  const auto commands = static_cast<double>(done.load());
  fmt::print("{} {:.0f} {:.1f} {:.2f}\n", layout, commands / elapsed,
             (after.total_s - before.total_s) * 1e6 / commands,
             (after.user_s - before.user_s) * 1e6 / commands);
  return 0;
} catch (const std::exception& error) {
  std::fprintf(stderr, "poolkit_redis_cluster_layouts: %s\n", error.what());
  return 1;
}
