// poolkit-redis-topology: starts a local Redis Cluster (3 masters, 3 replicas) or a Sentinel
// set (master, replica, 3 sentinels) on free loopback ports for the CLI tests and bench scripts,
// writes where they are to a file, and keeps them until SIGTERM/SIGINT (or --max-seconds).
//
//   poolkit-redis-topology cluster|sentinel READY_FILE [--password-env VAR] [--max-seconds N]
//
// READY_FILE gets `key=value` lines once everything is up (written to a temporary name, then
// renamed, so a reader never sees half of it):
//   cluster:  url=redis://[:pw@]h:p,.../0   masters=p1 p2 p3   nodes=p1 ... p6
//   sentinel: url=redis://[:pw@]s1,s2,s3   master_name=mymaster   master_port=p   replica_port=p
//             data_url=redis://[:pw@]127.0.0.1:p/0
// The URLs hold the password (taken from the environment, never from argv): do not print them.

#include <fmt/format.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "local_servers/redis_cluster.hpp"

namespace {

using poolkit::local::RedisCluster;
using poolkit::local::RedisSentinelSet;

constexpr int kExitUsage = 2;

struct Arguments {
  std::string topology{};
  std::filesystem::path ready_file{};
  std::string password{};
  int max_seconds = 900;
};

int usage(std::string_view problem) {
  fmt::print(stderr,
             "poolkit-redis-topology: {}\nusage: poolkit-redis-topology cluster|sentinel "
             "READY_FILE [--password-env VAR] [--max-seconds N]\n",
             problem);
  return kExitUsage;
}

std::string ports_text(const std::vector<int>& ports) {
  std::string text;
  for (const int port : ports) text += fmt::format("{}{}", text.empty() ? "" : " ", port);
  return text;
}

void write_ready_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path partial = path.string() + ".partial";
  std::ofstream(partial) << text;
  std::filesystem::rename(partial, path);
}

// The masters' ports, from the slot owners across the slot range.
std::vector<int> master_ports(RedisCluster& cluster) {
  std::set<std::size_t> masters;
  for (int slot = 0; slot < 16384; slot += 1024) {
    if (const auto index = cluster.master_of_slot(slot)) masters.insert(*index);
  }
  if (const auto last = cluster.master_of_slot(16383)) masters.insert(*last);
  std::vector<int> ports;
  ports.reserve(masters.size());
  for (const std::size_t index : masters) ports.push_back(cluster.node(index).port());
  return ports;
}

// Blocks until SIGTERM/SIGINT or `max_seconds` pass (signals blocked in main before any thread).
void wait_for_signal(const sigset_t& signals, int max_seconds) {
  const timespec limit{.tv_sec = max_seconds, .tv_nsec = 0};
  sigtimedwait(&signals, nullptr, &limit);
}

int run(const Arguments& arguments, const sigset_t& signals) {
  if (arguments.topology == "cluster") {
    RedisCluster cluster(RedisCluster::Options{.password = arguments.password});
    std::vector<int> nodes;
    for (std::size_t i = 0; i < cluster.size(); ++i) nodes.push_back(cluster.node(i).port());
    write_ready_file(arguments.ready_file,
                     fmt::format("url={}\nmasters={}\nnodes={}\n", cluster.seed_url(),
                                 ports_text(master_ports(cluster)), ports_text(nodes)));
    wait_for_signal(signals, arguments.max_seconds);
    return 0;
  }
  RedisSentinelSet set(RedisSentinelSet::Options{.password = arguments.password});
  // REDIS_URL's password is the data nodes' (the sentinels need none): the sentinels' URL
  // carries it for the client to use on the master.
  std::string url = set.sentinels_url();
  if (!arguments.password.empty()) url.insert(url.find("//") + 2, ":" + arguments.password + "@");
  write_ready_file(
      arguments.ready_file,
      fmt::format("url={}\nmaster_name={}\nmaster_port={}\nreplica_port={}\ndata_url={}\n", url,
                  set.master_name(), set.master().port(), set.replica().port(),
                  set.master().url()));
  wait_for_signal(signals, arguments.max_seconds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 2) return usage("expected a topology and a ready file");
  Arguments arguments{.topology = args[0], .ready_file = args[1]};
  if (arguments.topology != "cluster" && arguments.topology != "sentinel")
    return usage(fmt::format("unknown topology {:?}: expected cluster or sentinel", args[0]));
  for (std::size_t i = 2; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return usage(fmt::format("{} needs a value", args[i]));
    if (args[i] == "--password-env") {
      // Read once, in main, before any thread starts.
      const char* value = std::getenv(args[i + 1].c_str());  // NOLINT(concurrency-mt-unsafe)
      if (value == nullptr) return usage(fmt::format("{} is not set", args[i + 1]));
      arguments.password = value;
    } else if (args[i] == "--max-seconds") {
      arguments.max_seconds = std::atoi(args[i + 1].c_str());
      if (arguments.max_seconds <= 0) return usage("--max-seconds needs a positive number");
    } else {
      return usage(fmt::format("unknown option {:?}", args[i]));
    }
  }
  // Blocked before the fixtures start threads, so only sigtimedwait sees them and the servers
  // are stopped by the destructors.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  try {
    return run(arguments, signals);
  } catch (const std::exception& error) {
    fmt::print(stderr, "poolkit-redis-topology: could not start the {}: {}\n", arguments.topology,
               error.what());
    return 1;
  }
}
