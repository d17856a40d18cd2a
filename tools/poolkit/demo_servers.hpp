#pragma once
// The servers `poolkit demo` starts on free loopback ports: redis-server, FerretDB and nginx in
// plaintext, and the same three over TLS with a throw-away CA made for the run. Every one is
// stopped on the way out: normal exit, error, or SIGINT/SIGTERM (a signal thread kills their
// process groups, since the main thread may be deep inside a run).

#include <signal.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <poolkit/settings.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "local_servers/ferretdb.hpp"
#include "local_servers/redis_cluster.hpp"
#include "local_servers/servers.hpp"
#include "local_servers/test_ca.hpp"

namespace poolkit::cli {

// The servers the demo started, shared with the signal thread. Servers are started and stopped
// under the lock, so a signal never misses one that is half started.
class LocalServers {
 public:
  std::unique_ptr<local::RedisServer> redis;
  std::unique_ptr<local::NginxServer> nginx;
  std::unique_ptr<local::FerretDbServer> ferretdb;
  std::unique_ptr<local::TestCa> ca;
  std::unique_ptr<local::RedisServer> tls_redis;
  std::unique_ptr<local::NginxServer> tls_nginx;
  std::unique_ptr<local::FerretDbServer> tls_ferretdb;
  std::unique_ptr<local::RedisCluster> cluster;        // `poolkit demo --cluster`
  std::unique_ptr<local::RedisSentinelSet> sentinels;  // `poolkit demo --sentinel`

  template <class Server, class... Args>
  void start(std::unique_ptr<Server>& slot, Args&&... args) {
    const std::lock_guard lock(mutex_);
    slot = std::make_unique<Server>(std::forward<Args>(args)...);
  }

  void stop_all();
  // From the signal thread: SIGKILL every server's process group and remove its folder. The
  // objects stay as they are (the process is about to _exit). Returns how many were running.
  int kill_all();

 private:
  std::mutex mutex_;
};

// Waits for SIGINT/SIGTERM (blocked in every thread before any starts) and ends the process after
// stopping the servers. Destruction ends the wait.
class InterruptWatcher {
 public:
  explicit InterruptWatcher(LocalServers& servers);
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;
  ~InterruptWatcher();

 private:
  void wait(LocalServers& servers);

  sigset_t signals_{};
  sigset_t previous_{};
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

// What the started servers give the runs: settings pointing at them, the HTTP URL to fetch.
// A server that cannot start fails its layers only.
struct Started {
  Settings settings = Settings::defaults();
  std::string http_url{};
  std::vector<std::pair<std::string, std::string>> failures{};  // layer, why
};

// The plaintext servers the selected layers need.
Started start_servers(LocalServers& servers, const std::vector<std::string>& layers);
// The TLS servers for the selected layers (redis, mongo, http), trusting a CA made for the run;
// the layers are named "redis+tls", "mongo+tls" and "http+tls".
Started start_tls_servers(LocalServers& servers, const std::vector<std::string>& layers);

// A 6-node cluster (3 masters, 3 replicas, a random password) for `poolkit demo --cluster`,
// returned once every replica has synced with its master (only then does a replica take over
// its dead master's slots). Returns the seed URL (it holds the password: print it redacted).
std::string start_redis_cluster(LocalServers& servers);
// A master, its replica (synced) and three sentinels for `poolkit demo --sentinel`. Returns the
// sentinels' URL carrying the data nodes' random password (print it redacted).
std::string start_redis_sentinels(LocalServers& servers);

// The file nginx serves to the HTTP runs.
inline constexpr const char* kHttpFile = "/poolkit-demo.txt";

}  // namespace poolkit::cli
