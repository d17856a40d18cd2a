#include "local_servers/servers.hpp"

#include <fmt/format.h>

#include <fstream>
#include <stdexcept>

namespace poolkit::local {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(20);

std::filesystem::path require_program(const std::string& name, const std::string& package) {
  const auto path = find_program(name);
  if (path.empty())
    throw std::runtime_error(fmt::format(
        "{} not found: install Debian's {} (scripts/install-deps does)", name, package));
  return path;
}

constexpr int kStartAttempts = 3;

}  // namespace

RedisServer::RedisServer(Options options) : options_(std::move(options)) {
  port_ = options_.port != 0 ? options_.port : free_loopback_port();
  launch(/*may_move=*/options_.port == 0);
}

std::string RedisServer::url(int db) const {
  const std::string auth = options_.password.empty() ? "" : ":" + options_.password + "@";
  return fmt::format("{}://{}127.0.0.1:{}/{}", options_.tls ? "rediss" : "redis", auth, port_, db);
}

void RedisServer::start() {
  launch(/*may_move=*/false);
}

void RedisServer::append_role_arguments(std::vector<std::string>& argv) const {
  switch (options_.role) {
    case Options::Role::standalone:
      return;
    case Options::Role::cluster_node:
      argv.insert(argv.end(), {"--cluster-enabled", "yes", "--cluster-config-file",
                               (dir_.path() / "nodes.conf").string()});
      return;
    case Options::Role::sentinel: {
      // A Sentinel rewrites its own configuration file, which must come first on the line.
      const auto config = dir_.path() / "sentinel.conf";
      if (!std::filesystem::exists(config)) {
        std::ofstream file(config);
        for (const std::string& line : options_.sentinel_config) file << line << "\n";
      }
      argv.insert(argv.begin() + 1, config.string());
      argv.emplace_back("--sentinel");
      return;
    }
  }
}

void RedisServer::append_tls_arguments(std::vector<std::string>& argv, const ServerTls& tls) const {
  const std::vector<std::string> more = {
      "--tls-port",         std::to_string(port_),
      "--tls-cert-file",    tls.files.cert.string(),
      "--tls-key-file",     tls.files.key.string(),
      "--tls-auth-clients", tls.client_ca.empty() ? "no" : "yes"};
  argv.insert(argv.end(), more.begin(), more.end());
  if (!tls.client_ca.empty()) {
    argv.push_back("--tls-ca-cert-file");
    argv.push_back(tls.client_ca.string());
  }
}

std::vector<std::string> RedisServer::command_line() const {
  std::vector<std::string> argv = {require_program("redis-server", "redis-server").string(),
                                   "--port",
                                   options_.tls ? "0" : std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   dir_.path().string(),
                                   "--daemonize",
                                   "no",
                                   "--loglevel",
                                   "warning"};
  // The password goes in through a config file, so it never shows in a process listing.
  if (!options_.password.empty()) {
    const auto config = dir_.path() / "auth.conf";
    // masterauth too: a replica (cluster or sentinel set) authenticates to its master with it.
    std::ofstream(config) << "requirepass " << options_.password << "\nmasterauth "
                          << options_.password << "\n";
    argv.insert(argv.begin() + 1, config.string());
  }
  if (options_.tls) append_tls_arguments(argv, *options_.tls);
  append_role_arguments(argv);
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

void RedisServer::launch(bool may_move) {
  const auto log = dir_.path() / "redis.log";
  const bool listening = launch_until_listening(
      [&](int attempt) {
        if (attempt > 1 && may_move) port_ = free_loopback_port();
        return Launched{process_.emplace(command_line(), log), port_};
      },
      may_move ? kStartAttempts : 1, kStartTimeout);
  if (!listening)
    throw std::runtime_error(
        fmt::format("redis-server did not listen on 127.0.0.1:{}:{}", port_, log_tail(log)));
}

void RedisServer::kill() {
  if (process_) process_->kill_now();
}

void RedisServer::stop() {
  if (process_) process_->stop();
}

NginxServer::NginxServer(Options options) : options_(std::move(options)) {
  port_ = options_.port != 0 ? options_.port : free_loopback_port();
  std::filesystem::create_directories(root());
  // nginx's workers run as an unprivileged user when started by root: they must read the folder.
  std::filesystem::permissions(
      dir_.path(), std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                       std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                       std::filesystem::perms::others_exec);
  std::filesystem::create_directories(dir_.path() / "tmp");
  const auto log = dir_.path() / "nginx.out";
  const bool listening = launch_until_listening(
      [&](int attempt) {
        if (attempt > 1 && options_.port == 0) port_ = free_loopback_port();
        return Launched{process_.emplace(command_line(write_config()), log), port_};
      },
      options_.port == 0 ? kStartAttempts : 1, kStartTimeout);
  if (!listening)
    throw std::runtime_error(fmt::format("nginx did not listen on 127.0.0.1:{}:{}{}", port_,
                                         log_tail(log), log_tail(dir_.path() / "error.log")));
}

std::filesystem::path NginxServer::write_config() const {
  auto config = dir_.path() / "nginx.conf";
  std::ofstream(config) << fmt::format(
      R"(worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  log_format requests '$connection $connection_requests $status $request_uri';
  client_body_temp_path {dir}/tmp;
  proxy_temp_path {dir}/tmp;
  fastcgi_temp_path {dir}/tmp;
  uwsgi_temp_path {dir}/tmp;
  scgi_temp_path {dir}/tmp;
  keepalive_timeout {keepalive}s;
  keepalive_requests {requests};
  server {{
    listen 127.0.0.1:{port}{ssl};
    {tls}
    access_log {dir}/access.log requests;
    root {dir}/www;
    {extra}
  }}
}}
)",
      fmt::arg("dir", dir_.path().string()), fmt::arg("port", port_),
      fmt::arg("keepalive", options_.keepalive_timeout_s),
      fmt::arg("requests", options_.keepalive_requests),
      fmt::arg("extra", options_.extra_server_config), fmt::arg("ssl", options_.tls ? " ssl" : ""),
      fmt::arg("tls", tls_config()));
  return config;
}

std::string NginxServer::tls_config() const {
  if (!options_.tls) return {};
  std::string lines = fmt::format(
      "ssl_certificate {};\n    ssl_certificate_key {};\n    ssl_protocols TLSv1.2 TLSv1.3;\n"
      "    ssl_session_cache shared:tls:1m;",
      options_.tls->files.cert.string(), options_.tls->files.key.string());
  if (!options_.tls->client_ca.empty()) {
    lines += fmt::format("\n    ssl_client_certificate {};\n    ssl_verify_client on;",
                         options_.tls->client_ca.string());
  }
  return lines;
}

std::vector<std::string> NginxServer::command_line(const std::filesystem::path& config) const {
  return {require_program("nginx", "nginx-light").string(),
          "-p",
          dir_.path().string(),
          "-c",
          config.string(),
          "-e",
          (dir_.path() / "error.log").string(),
          "-g",
          "daemon off;"};
}

std::string NginxServer::url(const std::string& path) const {
  return fmt::format("{}://127.0.0.1:{}{}", options_.tls ? "https" : "http", port_, path);
}

void NginxServer::stop() {
  if (process_) process_->stop();
}

}  // namespace poolkit::local
