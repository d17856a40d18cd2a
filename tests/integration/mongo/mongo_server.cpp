#include "mongo_server.hpp"

#include <curl/curl.h>
#include <mongoc/mongoc.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "poolkit/url.hpp"

namespace poolkit::test {
namespace {

constexpr auto kStartTimeout = std::chrono::seconds(30);

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// The launcher binary: $POOLKIT_FERRETDB_LAUNCHER, else the one CMake built.
std::filesystem::path launcher_binary() {
  if (auto path = env("POOLKIT_FERRETDB_LAUNCHER")) return *path;
  return POOLKIT_FERRETDB_LAUNCHER;
}

size_t append_to_string(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

std::optional<std::string> http_get(const std::string& url) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return std::nullopt;
  std::string body;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  long status = 0;
  if (curl_easy_perform(curl.get()) != CURLE_OK) return std::nullopt;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) return std::nullopt;
  return body;
}

std::optional<int> gauge(const std::string& page, const std::string& name) {
  std::istringstream lines(page);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(name + " ", 0) == 0) return std::stoi(line.substr(name.size() + 1));
  }
  return std::nullopt;
}

// Real MongoDB: connections (idle ones too) whose handshake named `appname`.
std::optional<int> current_op_connections(const std::string& url, const std::string& appname) {
  bson_error_t error;
  mongoc_client_t* client = mongoc_client_new(url.c_str());
  if (client == nullptr) return std::nullopt;
  bson_t* command = BCON_NEW("currentOp", BCON_INT32(1), "$all", BCON_BOOL(true), "appName",
                             BCON_UTF8(appname.c_str()));
  bson_t reply;
  std::optional<int> count;
  if (mongoc_client_command_simple(client, "admin", command, nullptr, &reply, &error)) {
    bson_iter_t iter;
    bson_iter_t ops;
    if (bson_iter_init_find(&iter, &reply, "inprog") && bson_iter_recurse(&iter, &ops)) {
      int n = 0;
      while (bson_iter_next(&ops)) ++n;
      count = n;
    }
  }
  bson_destroy(&reply);
  bson_destroy(command);
  mongoc_client_destroy(client);
  return count;
}

}  // namespace

std::optional<std::string> MongoServer::unavailable_reason() {
  if (env("MONGODB_TEST_URL")) return std::nullopt;
  const auto binary = launcher_binary();
  if (binary.empty()) {
    return "no FerretDB launcher (Go was not found when configuring) and MONGODB_TEST_URL unset";
  }
  if (!std::filesystem::exists(binary)) {
    return "the FerretDB launcher " + binary.string() + " was not built";
  }
  return std::nullopt;
}

MongoServer::MongoServer() {
  if (auto url = env("MONGODB_TEST_URL")) {
    url_ = *url;
    return;
  }
  data_ = std::make_unique<TempDir>("poolkit-ferretdb");
  port_ = free_loopback_port();
  metrics_port_ = free_loopback_port();
  start();
}

MongoServer::~MongoServer() {
  if (launcher_) launcher_->stop();
}

void MongoServer::start() {
  if (!data_) throw std::logic_error("MongoServer::start: only for the FerretDB launcher");
  const auto binary = launcher_binary();
  launcher_.emplace(std::vector<std::string>{binary.string(), "--port", std::to_string(port_),
                                             "--metrics-port", std::to_string(metrics_port_),
                                             "--data-dir", (data_->path() / "data").string()},
                    data_->path() / "launcher.log");
  // The metrics page opens after FerretDB's listener: once it answers, both are up.
  if (!wait_for_port(metrics_port_, kStartTimeout)) {
    throw std::runtime_error("FerretDB did not start within 30 s; see " +
                             (data_->path() / "launcher.log").string());
  }
  url_ = "mongodb://127.0.0.1:" + std::to_string(port_) + "/";
}

void MongoServer::stop(bool crash) {
  if (!launcher_) throw std::logic_error("MongoServer::stop: only for the FerretDB launcher");
  if (crash) {
    launcher_->kill_now();
  } else {
    // FerretDB gives connected clients 3 s to disconnect before it closes them.
    launcher_->stop(std::chrono::seconds(10));
  }
  launcher_.reset();
}

MongoSettings MongoServer::settings() const {
  MongoSettings settings = Settings::defaults().mongo;
  settings.url = parse_url(url_);
  return settings;
}

std::optional<int> MongoServer::open_connections(const std::string& appname) const {
  if (external()) return current_op_connections(url_, appname);
  const auto page = http_get("http://127.0.0.1:" + std::to_string(metrics_port_) + "/metrics");
  if (!page) return std::nullopt;
  return gauge(*page, "ferretdb_launcher_client_connections");
}

}  // namespace poolkit::test
