#include <poolkit/poolkit.hpp>

int main() {
  auto& pools = poolkit::pools();  // REDIS_URL, MONGODB_URL, ... from the environment

  pools.redis().set("greeting", "hello", {.ttl = std::chrono::seconds(60)});
  std::optional<std::string> greeting = pools.redis().get("greeting");

  pools.mongo().run_command_json("app", R"({"insert": "events", "documents": [{"kind": "hi"}]})");

  poolkit::http::Response page = pools.http_sync().get("https://example.com/");
  std::future<poolkit::http::Response> hook =
      pools.http().send(poolkit::http::Request::post("https://example.com/hooks", page.body));

  return greeting && hook.get().status == 200 ? 0 : 1;
}  // no close(): every pool is closed at exit
