#include "demo_servers.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <initializer_list>
#include <poolkit/url.hpp>
#include <random>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace poolkit::cli {
namespace {

bool wants(const std::vector<std::string>& layers, std::string_view layer) {
  return std::find(layers.begin(), layers.end(), layer) != layers.end();
}

// A password for the demo's redis-servers: random per run, so nothing can depend on it, and the
// report shows it masked like any other.
std::string random_password() {
  std::random_device device;
  std::uniform_int_distribution<int> digit(0, 35);
  std::string password = "demo-";
  for (int i = 0; i < 20; ++i) password += "abcdefghijklmnopqrstuvwxyz0123456789"[digit(device)];
  return password;
}

void fail(Started& started, std::initializer_list<std::string_view> names, const std::string& why) {
  for (const std::string_view name : names) started.failures.emplace_back(name, why);
}

bool wants_http(const std::vector<std::string>& layers) {
  return wants(layers, layer_name(Layer::http_async)) ||
         wants(layers, layer_name(Layer::http_sync));
}

void serve_demo_file(const local::NginxServer& nginx) {
  std::ofstream(nginx.root() / (kHttpFile + 1)) << std::string(512, 'x') << "\n";
}

// True once every replica of the cluster reports master_link_status:up.
bool replicas_in_sync(const local::RedisCluster& cluster) {
  for (std::size_t i = 0; i < cluster.size(); ++i) {
    const local::ToolRun info = cluster.cli(i, {"INFO", "replication"});
    if (info.status != 0) return false;
    const bool replica = info.output.find("role:slave") != std::string::npos;
    if (replica && info.output.find("master_link_status:up") == std::string::npos) return false;
  }
  return true;
}

}  // namespace

void LocalServers::stop_all() {
  const std::lock_guard lock(mutex_);
  redis.reset();
  nginx.reset();
  ferretdb.reset();
  tls_redis.reset();
  tls_nginx.reset();
  tls_ferretdb.reset();
  cluster.reset();
  sentinels.reset();
  ca.reset();
}

int LocalServers::kill_all() {
  const std::lock_guard lock(mutex_);
  int killed = 0;
  const auto kill = [&killed](const auto& server) {
    if (!server || server->process_group() <= 0) return;
    ::kill(-server->process_group(), SIGKILL);
    std::error_code ignored;
    std::filesystem::remove_all(server->scratch_dir(), ignored);
    ++killed;
  };
  kill(redis);
  kill(nginx);
  kill(ferretdb);
  kill(tls_redis);
  kill(tls_nginx);
  kill(tls_ferretdb);
  for (std::size_t i = 0; cluster && i < cluster->size(); ++i) kill(&cluster->node(i));
  if (sentinels) {
    kill(&sentinels->master());
    kill(&sentinels->replica());
    for (std::size_t i = 0; i < sentinels->sentinel_count(); ++i) kill(&sentinels->sentinel(i));
  }
  if (ca) {
    std::error_code ignored;
    std::filesystem::remove_all(ca->dir(), ignored);
  }
  return killed;
}

InterruptWatcher::InterruptWatcher(LocalServers& servers) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  // A shell starts background jobs with SIGINT ignored, and an ignored signal is discarded
  // rather than left pending for sigwait: the demo must stop its servers on it all the same.
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  sigaction(SIGINT, &default_action, nullptr);
  sigaction(SIGTERM, &default_action, nullptr);
  pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
  thread_ = std::thread([this, &servers] { wait(servers); });
}

InterruptWatcher::~InterruptWatcher() {
  finished_ = true;
  pthread_kill(thread_.native_handle(), SIGTERM);
  thread_.join();
  pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

void InterruptWatcher::wait(LocalServers& servers) {
  int signo = 0;
  while (sigwait(&signals_, &signo) != 0) {
  }
  if (finished_) return;
  const int stopped = servers.kill_all();
  fmt::print(stderr, "\ninterrupted: stopped {} local servers\n", stopped);
  std::fflush(stderr);
  ::_exit(130);
}

Started start_servers(LocalServers& servers, const std::vector<std::string>& layers) {
  Started started;
  started.settings.redis.url.reset();
  started.settings.mongo.url.reset();
  if (wants(layers, layer_name(Layer::redis))) {
    try {
      servers.start(servers.redis, local::RedisServer::Options{.password = random_password()});
      started.settings.redis.url = parse_url(servers.redis->url());
      fmt::print(stderr, "started redis-server on 127.0.0.1:{}\n", servers.redis->port());
    } catch (const std::exception& error) {
      fail(started, {layer_name(Layer::redis)}, error.what());
    }
  }
  if (wants(layers, layer_name(Layer::mongo))) {
    if (const auto reason = local::FerretDbServer::unavailable_reason()) {
      fail(started, {layer_name(Layer::mongo)}, *reason);
    } else {
      try {
        servers.start(servers.ferretdb);
        started.settings.mongo.url = parse_url(servers.ferretdb->url());
        fmt::print(stderr, "started FerretDB on 127.0.0.1:{}\n", servers.ferretdb->port());
      } catch (const std::exception& error) {
        fail(started, {layer_name(Layer::mongo)}, error.what());
      }
    }
  }
  if (wants_http(layers)) {
    try {
      servers.start(servers.nginx);
      serve_demo_file(*servers.nginx);
      started.http_url = servers.nginx->url(kHttpFile);
      fmt::print(stderr, "started nginx on 127.0.0.1:{}\n", servers.nginx->port());
    } catch (const std::exception& error) {
      fail(started, {layer_name(Layer::http_async), layer_name(Layer::http_sync)}, error.what());
    }
  }
  return started;
}

Started start_tls_servers(LocalServers& servers, const std::vector<std::string>& layers) {
  Started started;
  started.settings.redis.url.reset();
  started.settings.mongo.url.reset();
  try {
    servers.start(servers.ca);
  } catch (const std::exception& error) {
    fail(started, {"redis+tls", "mongo+tls", "http+tls"}, error.what());
    return started;
  }
  const local::ServerTls tls{servers.ca->server()};
  TlsOptions trust_demo_ca;
  trust_demo_ca.ca_file = servers.ca->ca_file().string();
  trust_demo_ca.ca_source = "the demo's CA";
  if (wants(layers, layer_name(Layer::redis))) {
    try {
      servers.start(servers.tls_redis,
                    local::RedisServer::Options{.password = random_password(), .tls = tls});
      started.settings.redis.url = parse_url(servers.tls_redis->url());
      started.settings.redis.tls = trust_demo_ca;
      fmt::print(stderr, "started redis-server over TLS on 127.0.0.1:{}\n",
                 servers.tls_redis->port());
    } catch (const std::exception& error) {
      fail(started, {"redis+tls"}, error.what());
    }
  }
  if (wants(layers, layer_name(Layer::mongo))) {
    if (const auto reason = local::FerretDbServer::unavailable_reason()) {
      fail(started, {"mongo+tls"}, *reason);
    } else {
      try {
        servers.start(servers.tls_ferretdb,
                      local::FerretDbServer::Options{
                          .tls = local::FerretDbServer::Tls{tls, servers.ca->ca_file()}});
        started.settings.mongo.url = parse_url(servers.tls_ferretdb->url());
        fmt::print(stderr, "started FerretDB over TLS on 127.0.0.1:{}\n",
                   servers.tls_ferretdb->port());
      } catch (const std::exception& error) {
        fail(started, {"mongo+tls"}, error.what());
      }
    }
  }
  if (wants(layers, layer_name(Layer::http_async))) {
    try {
      servers.start(servers.tls_nginx, local::NginxServer::Options{.tls = tls});
      serve_demo_file(*servers.tls_nginx);
      started.http_url = servers.tls_nginx->url(kHttpFile);
      started.settings.http_async.tls = trust_demo_ca;
      started.settings.http_sync.tls = trust_demo_ca;
      fmt::print(stderr, "started nginx over TLS on 127.0.0.1:{}\n", servers.tls_nginx->port());
    } catch (const std::exception& error) {
      fail(started, {"http+tls"}, error.what());
    }
  }
  return started;
}

std::string start_redis_cluster(LocalServers& servers) {
  // A replica syncs at once instead of after redis' default 5 s wait for more replicas.
  servers.start(servers.cluster,
                local::RedisCluster::Options{.password = random_password(),
                                             .extra_args = {"--repl-diskless-sync-delay", "0"}});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!replicas_in_sync(*servers.cluster)) {
    if (std::chrono::steady_clock::now() > deadline)
      throw std::runtime_error("the cluster's replicas did not sync with their masters in 30 s");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  fmt::print(stderr, "started a Redis Cluster of {} nodes (3 masters, 3 replicas) on 127.0.0.1\n",
             servers.cluster->size());
  return servers.cluster->seed_url();
}

std::string start_redis_sentinels(LocalServers& servers) {
  // Ready once the replica has synced and every sentinel knows it and the others.
  const std::string password = random_password();
  servers.start(servers.sentinels, local::RedisSentinelSet::Options{.password = password});
  fmt::print(stderr, "started a Redis master, its replica and {} sentinels on 127.0.0.1\n",
             servers.sentinels->sentinel_count());
  // REDIS_URL's password is the data nodes' (the sentinels need none).
  std::string url = servers.sentinels->sentinels_url();
  const std::string scheme_end = "://";
  url.insert(url.find(scheme_end) + scheme_end.size(), fmt::format(":{}@", password));
  return url;
}

}  // namespace poolkit::cli
