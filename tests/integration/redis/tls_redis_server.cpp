#include "tls_redis_server.hpp"

#include <hiredis/hiredis.h>

#include <memory>
#include <sstream>
#include <stdexcept>

#include "redis_server.hpp"  // test_secret()

namespace poolkit::test {
namespace {

struct ContextFree {
  void operator()(redisContext* context) const noexcept { redisFree(context); }
};
struct ReplyFree {
  void operator()(redisReply* reply) const noexcept { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

std::filesystem::path socket_of(const TempDir& dir) {
  return dir.path() / "redis.sock";
}

}  // namespace

const local::TestCa& TlsRedisServer::ca() {
  return local::TestCa::shared();
}

local::RedisServer::Options TlsRedisServer::launch_options(const TempDir& dir,
                                                           const Options& options) {
  const local::TestCa& authority = ca();
  local::ServerTls tls;
  switch (options.certificate) {
    case Certificate::good:
      tls.files = authority.server();
      break;
    case Certificate::wrong_name:
      tls.files = authority.wrong_name_server();
      break;
    case Certificate::expired:
      tls.files = authority.expired_server();
      break;
  }
  if (options.require_client_certificate) tls.client_ca = authority.ca_file();
  return {.password = test_secret(),
          .extra_args = {"--unixsocket", socket_of(dir).string(), "--unixsocketperm", "700"},
          .tls = tls};
}

TlsRedisServer::TlsRedisServer(Options options) : server_(launch_options(dir_, options)) {}

std::string TlsRedisServer::url(const std::string& host) const {
  return url_trusting(ca().ca_file(), host);
}

std::string TlsRedisServer::url_trusting(const std::filesystem::path& ca_file,
                                         const std::string& host) const {
  std::string url = "rediss://:" + test_secret() + "@" + host + ":" + std::to_string(port()) + "/0";
  if (!ca_file.empty()) url += "?ssl_ca_certs=" + ca_file.string();
  return url;
}

std::string TlsRedisServer::admin_text(const std::vector<std::string>& args) const {
  std::unique_ptr<redisContext, ContextFree> context(
      redisConnectUnixWithTimeout(socket_of(dir_).c_str(), timeval{5, 0}));
  if (!context || context->err != 0) throw std::runtime_error("fixture: cannot reach redis-server");
  redisSetTimeout(context.get(), timeval{5, 0});
  const auto run = [&](const std::vector<std::string>& words) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lengths;
    for (const auto& word : words) {
      argv.push_back(word.data());
      lengths.push_back(word.size());
    }
    ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
        context.get(), static_cast<int>(argv.size()), argv.data(), lengths.data())));
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      throw std::runtime_error("fixture: redis-server refused " + words.front());
    }
    return reply;
  };
  run({"AUTH", test_secret()});
  run({"CLIENT", "SETNAME", "fixture-admin"});
  const ReplyPtr reply = run(args);
  if (reply->type == REDIS_REPLY_INTEGER) return std::to_string(reply->integer);
  return reply->str != nullptr ? std::string(reply->str, reply->len) : std::string();
}

long long TlsRedisServer::admin_integer(const std::vector<std::string>& args) const {
  return std::stoll(admin_text(args));
}

int TlsRedisServer::count_clients(const std::string& name) const {
  std::istringstream list(admin_text({"CLIENT", "LIST"}));
  int count = 0;
  for (std::string line; std::getline(list, line);) {
    count += line.find(" name=" + name + " ") != std::string::npos ? 1 : 0;
  }
  return count;
}

void TlsRedisServer::set_idle_timeout(std::chrono::seconds timeout) const {
  admin_text({"CONFIG", "SET", "timeout", std::to_string(timeout.count())});
}

}  // namespace poolkit::test
