#include "redis_server.hpp"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "poolkit/url.hpp"

namespace poolkit::test {
namespace {

using namespace std::chrono_literals;

struct ContextFree {
  void operator()(redisContext* context) const noexcept { redisFree(context); }
};
struct ReplyFree {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextFree>;
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

ReplyPtr run(redisContext* context, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  ReplyPtr reply(static_cast<redisReply*>(
      redisCommandArgv(context, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!reply)
    throw std::runtime_error("fixture: no reply from redis-server: " +
                             std::string(context->errstr));
  if (reply->type == REDIS_REPLY_ERROR) {
    throw std::runtime_error("fixture: redis-server refused " + args.front() + ": " + reply->str);
  }
  return reply;
}

ContextPtr admin_connection(int port) {
  ContextPtr context(redisConnectWithTimeout("127.0.0.1", port, timeval{5, 0}));
  if (!context || context->err != 0) throw std::runtime_error("fixture: cannot reach redis-server");
  redisSetTimeout(context.get(), timeval{5, 0});
  run(context.get(), {"AUTH", test_secret()});
  run(context.get(), {"CLIENT", "SETNAME", "fixture-admin"});
  return context;
}

std::string percent_encode(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0) {
      out += static_cast<char>(c);
    } else {
      char buffer[4];
      std::snprintf(buffer, sizeof buffer, "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

}  // namespace

std::string test_secret() {
  const char* secret = std::getenv("POOLKIT_TEST_SECRET");
  if (secret == nullptr || *secret == '\0') {
    throw std::runtime_error("POOLKIT_TEST_SECRET is not set: run the tests through ctest");
  }
  return secret;
}

std::string RedisServer::acl_password() {
  return test_secret() + "@:/%";
}

local::RedisServer::Options RedisServer::launch_options(const TempDir& dir) {
  const auto acl_file = dir.path() / "acl.conf";
  std::ofstream(acl_file) << "user " << kAclUser << " on >" << acl_password() << " ~* &* +@all\n";
  std::filesystem::permissions(
      acl_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  return {.password = test_secret(),
          .extra_args = {"--include", acl_file.string(), "--unixsocket",
                         (dir.path() / "redis.sock").string(), "--unixsocketperm", "700"}};
}

RedisServer::RedisServer() : server_(launch_options(dir_)) {}

std::string RedisServer::url(const std::string& path) const {
  return "redis://:" + test_secret() + "@127.0.0.1:" + std::to_string(port()) + path;
}

std::string RedisServer::acl_url() const {
  return std::string("redis://") + kAclUser + ":" + percent_encode(acl_password()) +
         "@127.0.0.1:" + std::to_string(port()) + "/0";
}

std::string RedisServer::admin_text(const std::vector<std::string>& args) const {
  const auto context = admin_connection(port());
  const auto reply = run(context.get(), args);
  return reply->str != nullptr ? std::string(reply->str, reply->len) : std::string();
}

long long RedisServer::admin_integer(const std::vector<std::string>& args) const {
  const auto context = admin_connection(port());
  return run(context.get(), args)->integer;
}

std::vector<std::string> RedisServer::client_names() const {
  std::istringstream list(admin_text({"CLIENT", "LIST"}));
  std::vector<std::string> names;
  for (std::string line; std::getline(list, line);) {
    const auto at = line.find(" name=");
    if (at == std::string::npos) continue;
    const auto start = at + 6;
    std::string name = line.substr(start, line.find(' ', start) - start);
    if (name != "fixture-admin") names.push_back(name);
  }
  return names;
}

int RedisServer::count_clients(const std::string& name) const {
  int count = 0;
  for (const auto& each : client_names()) count += each == name ? 1 : 0;
  return count;
}

void RedisServer::set_idle_timeout(std::chrono::seconds timeout) const {
  admin_text({"CONFIG", "SET", "timeout", std::to_string(timeout.count())});
}

RedisSettings test_settings(const std::string& url, const std::string& client_name) {
  RedisSettings settings = Settings::defaults().redis;
  settings.url = parse_url(url);
  settings.max_connections = 8;
  settings.connect_timeout = 2s;
  settings.socket_timeout = 2s;
  settings.wait_timeout = 5s;
  settings.retry_attempts = 3;
  settings.client_name = client_name;
  return settings;
}

SilentListener::SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(fd_, 64) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    throw std::runtime_error("SilentListener: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(address.sin_port);
}

SilentListener::~SilentListener() {
  ::close(fd_);
}

}  // namespace poolkit::test
