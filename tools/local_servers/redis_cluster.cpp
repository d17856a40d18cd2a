#include "local_servers/redis_cluster.hpp"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace poolkit::local {
namespace {

bool can_bind_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return bound;
}

std::vector<std::string> auth_environment(const std::string& password) {
  if (password.empty()) return {};
  return {"REDISCLI_AUTH=" + password};
}

// redis-cli (and redis-server arguments) for TLS everywhere, with the shared test CA: the
// server's certificate, and the CA to check the others' (a node or sentinel is a TLS client of
// the others for the bus, replication and the sentinels' links).
std::optional<ServerTls> server_tls(bool tls) {
  if (!tls) return std::nullopt;
  return ServerTls{.files = TestCa::shared().server()};
}

std::vector<std::string> tls_server_args(bool tls, bool cluster) {
  if (!tls) return {};
  std::vector<std::string> args = {"--tls-replication", "yes", "--tls-ca-cert-file",
                                   TestCa::shared().ca_file().string()};
  // The cluster bus asks every peer for a certificate whatever tls-auth-clients says: the
  // nodes show the CA's client certificate (the server one is for serverAuth only).
  if (cluster) {
    const TlsFiles& client = TestCa::shared().client();
    args.insert(args.end(), {"--tls-cluster", "yes", "--tls-client-cert-file", client.cert.string(),
                             "--tls-client-key-file", client.key.string()});
  }
  return args;
}

// `redis-cli -h 127.0.0.1 -p port` (with --tls --cacert over TLS), then `args`.
std::vector<std::string> cli_argv(bool tls, int port, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"redis-cli", "-h", "127.0.0.1", "-p", std::to_string(port)};
  if (tls) argv.insert(argv.end(), {"--tls", "--cacert", TestCa::shared().ca_file().string()});
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

std::string hosts_url(bool tls, const std::string& auth,
                      const std::vector<std::unique_ptr<RedisServer>>& servers) {
  std::string hosts;
  for (const auto& server : servers) {
    hosts += fmt::format("{}127.0.0.1:{}", hosts.empty() ? "" : ",", server->port());
  }
  return fmt::format("{}://{}{}", tls ? "rediss" : "redis", auth, hosts);
}

}  // namespace

ToolRun run_tool(const std::vector<std::string>& argv, const std::vector<std::string>& environment,
                 std::chrono::milliseconds timeout) {
  TempDir dir("poolkit-tool");
  const auto log = dir.path() / "output";
  ChildProcess child(argv, log, environment);
  ToolRun run;
  if (const auto status = child.wait(timeout)) {
    run.status = *status;
  } else {
    child.kill_now();
  }
  run.output = read_text(log);
  return run;
}

int free_cluster_port() {
  // Below 55536 so that the bus port fits; ports from free_loopback_port's range otherwise.
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(10000, 30000);
  for (int i = 0; i < 500; ++i) {
    const int port = pick(random);
    if (can_bind_loopback(port) && can_bind_loopback(port + 10000)) return port;
  }
  throw std::runtime_error(
      "no free port pair (port, port + 10000) for a cluster node on 127.0.0.1");
}

RedisCluster::RedisCluster(Options options) : options_(std::move(options)) {
  const int count = options_.masters * (1 + options_.replicas_per_master);
  std::vector<std::string> args = options_.extra_args;
  args.insert(args.end(), {"--cluster-node-timeout", std::to_string(options_.node_timeout_ms)});
  const auto tls_args = tls_server_args(options_.tls, true);
  args.insert(args.end(), tls_args.begin(), tls_args.end());
  for (int i = 0; i < count; ++i) {
    nodes_.push_back(std::make_unique<RedisServer>(
        RedisServer::Options{.password = options_.password,
                             .extra_args = args,
                             .port = free_cluster_port(),
                             .tls = server_tls(options_.tls),
                             .role = RedisServer::Options::Role::cluster_node}));
  }
  std::vector<std::string> create = {"create"};
  for (const auto& node : nodes_) create.push_back(fmt::format("127.0.0.1:{}", node->port()));
  create.insert(create.end(), {"--cluster-replicas", std::to_string(options_.replicas_per_master),
                               "--cluster-yes"});
  const ToolRun made = cluster_tool(create);
  if (made.status != 0)
    throw std::runtime_error("redis-cli --cluster create failed:\n" + made.output);
  if (!wait_until_ok(std::chrono::seconds(30)))
    throw std::runtime_error("the cluster did not reach cluster_state:ok within 30 s");
}

std::string RedisCluster::seed_url() const {
  const std::string auth = options_.password.empty() ? "" : ":" + options_.password + "@";
  return hosts_url(options_.tls, auth, nodes_) + "/0";
}

ToolRun RedisCluster::cli(std::size_t index, const std::vector<std::string>& args) const {
  return run_tool(cli_argv(options_.tls, nodes_.at(index)->port(), args),
                  auth_environment(options_.password), std::chrono::seconds(10));
}

ToolRun RedisCluster::cluster_tool(const std::vector<std::string>& args,
                                   std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv = {"redis-cli", "--cluster"};
  if (options_.tls) {
    argv.insert(argv.begin() + 1, {"--tls", "--cacert", TestCa::shared().ca_file().string()});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return run_tool(argv, auth_environment(options_.password), timeout);
}

bool RedisCluster::wait_until_ok(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    bool all_ok = true;
    for (std::size_t i = 0; i < nodes_.size() && all_ok; ++i) {
      if (!nodes_[i]->running()) continue;
      all_ok = cli(i, {"CLUSTER", "INFO"}).output.find("cluster_state:ok") != std::string::npos;
    }
    if (all_ok && cluster_tool({"check", fmt::format("127.0.0.1:{}", nodes_[0]->port())},
                               std::chrono::seconds(10))
                          .output.find("[OK] All 16384 slots covered") != std::string::npos)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

std::optional<std::size_t> RedisCluster::index_of_port(int port) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->port() == port) return i;
  return std::nullopt;
}

std::optional<std::size_t> RedisCluster::master_of_slot(int slot) const {
  // CLUSTER NODES: "<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slots>..."
  // with slots as "0-5460" or "5461" (and "[...]" for slots being migrated, skipped here).
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (!nodes_[i]->running()) continue;
    std::istringstream lines(cli(i, {"CLUSTER", "NODES"}).output);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string id, address, flags, skipped;
      words >> id >> address >> flags;
      if (flags.find("master") == std::string::npos || flags.find("fail") != std::string::npos)
        continue;
      for (int k = 0; k < 5; ++k) words >> skipped;
      for (std::string range; words >> range;) {
        if (range.starts_with('[')) continue;
        const auto dash = range.find('-');
        const int first = std::stoi(range.substr(0, dash));
        const int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
        if (first <= slot && slot <= last) {
          const auto colon = address.find(':');
          return index_of_port(std::stoi(address.substr(colon + 1)));
        }
      }
    }
    return std::nullopt;
  }
  return std::nullopt;
}

RedisSentinelSet::RedisSentinelSet(Options options) : options_(std::move(options)) {
  // The password reaches every server through its config file (requirepass, masterauth).
  const auto tls_args = tls_server_args(options_.tls, false);
  data_.push_back(std::make_unique<RedisServer>(RedisServer::Options{
      .password = options_.password, .extra_args = tls_args, .tls = server_tls(options_.tls)}));
  std::vector<std::string> replica_args = {"--replicaof", "127.0.0.1",
                                           std::to_string(data_[0]->port())};
  replica_args.insert(replica_args.end(), tls_args.begin(), tls_args.end());
  data_.push_back(std::make_unique<RedisServer>(RedisServer::Options{
      .password = options_.password, .extra_args = replica_args, .tls = server_tls(options_.tls)}));
  const std::string& name = options_.master_name;
  std::vector<std::string> config = {
      fmt::format("sentinel monitor {} 127.0.0.1 {} 2", name, data_[0]->port()),
      fmt::format("sentinel down-after-milliseconds {} {}", name, options_.down_after_ms),
      fmt::format("sentinel failover-timeout {} 5000", name),
      fmt::format("sentinel parallel-syncs {} 1", name)};
  if (!options_.password.empty())
    config.push_back(fmt::format("sentinel auth-pass {} {}", name, options_.password));
  for (int i = 0; i < 3; ++i) {
    sentinels_.push_back(std::make_unique<RedisServer>(
        RedisServer::Options{.extra_args = tls_args,
                             .tls = server_tls(options_.tls),
                             .role = RedisServer::Options::Role::sentinel,
                             .sentinel_config = config}));
  }
  if (!wait_until_ready(std::chrono::seconds(30)))
    throw std::runtime_error("the sentinels did not see the replica and each other within 30 s");
}

std::string RedisSentinelSet::sentinels_url() const {
  return hosts_url(options_.tls, "", sentinels_);
}

ToolRun RedisSentinelSet::sentinel_cli(std::size_t index,
                                       const std::vector<std::string>& args) const {
  return run_tool(cli_argv(options_.tls, sentinels_.at(index)->port(), args), {},
                  std::chrono::seconds(10));
}

std::optional<int> RedisSentinelSet::master_port_seen_by(std::size_t index) const {
  std::istringstream lines(
      sentinel_cli(index, {"SENTINEL", "get-master-addr-by-name", options_.master_name}).output);
  std::string host, port;
  if (!std::getline(lines, host) || !std::getline(lines, port)) return std::nullopt;
  try {
    return std::stoi(port);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool RedisSentinelSet::failover(std::size_t index) const {
  const ToolRun run = sentinel_cli(index, {"SENTINEL", "FAILOVER", options_.master_name});
  return run.status == 0 && run.output.starts_with("OK");
}

bool RedisSentinelSet::replica_in_sync() const {
  const std::vector<std::string> argv =
      cli_argv(options_.tls, data_.at(1)->port(), {"INFO", "replication"});
  return run_tool(argv, auth_environment(options_.password), std::chrono::seconds(10))
             .output.find("master_link_status:up") != std::string::npos;
}

bool RedisSentinelSet::wait_until_ready(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // A replica still waiting for its first sync (wait_bgsave) has nothing to hand over: a
    // failover then would lose every write.
    bool ready = replica_in_sync();
    for (std::size_t i = 0; i < sentinels_.size() && ready; ++i) {
      const std::string master =
          sentinel_cli(i, {"SENTINEL", "master", options_.master_name}).output;
      // The reply lists field names and values on alternate lines.
      const auto field = [&master](const std::string& name) {
        const auto at = master.find(name + "\n");
        if (at == std::string::npos) return std::string();
        const auto start = at + name.size() + 1;
        return master.substr(start, master.find('\n', start) - start);
      };
      ready = field("num-slaves") == "1" && field("num-other-sentinels") == "2";
    }
    if (ready) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return false;
}

}  // namespace poolkit::local
