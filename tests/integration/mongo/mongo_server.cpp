#include "mongo_server.hpp"

#include <mongoc/mongoc.h>

#include <cstdlib>

#include "poolkit/url.hpp"

namespace poolkit::test {
namespace {

std::optional<std::string> test_url() {
  const char* value = std::getenv("MONGODB_TEST_URL");
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

// Real MongoDB: connections (idle ones too) whose handshake named `appname`.
std::optional<int> current_op_connections(const std::string& url, const std::string& appname) {
  mongoc_client_t* client = mongoc_client_new(url.c_str());
  if (client == nullptr) return std::nullopt;
  bson_t* command = BCON_NEW("currentOp", BCON_INT32(1), "$all", BCON_BOOL(true), "appName",
                             BCON_UTF8(appname.c_str()));
  bson_t reply;
  bson_error_t error;
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
  if (test_url()) return std::nullopt;
  return FerretDbServer::unavailable_reason();
}

MongoServer::MongoServer() {
  if (auto url = test_url()) {
    url_ = *url;
    return;
  }
  ferretdb_.emplace();
  url_ = ferretdb_->url();
}

MongoSettings MongoServer::settings() const {
  MongoSettings settings = Settings::defaults().mongo;
  settings.url = parse_url(url_);
  return settings;
}

std::optional<int> MongoServer::open_connections(const std::string& appname) const {
  if (external()) return current_op_connections(url_, appname);
  return ferretdb_->open_connections();
}

}  // namespace poolkit::test
