// snippet_service: a small service using all four poolkit clients through poolkit::pools().
//
// Worker threads take snippet ids; for each one the service reads the Redis cache, on a miss
// fetches the snippet from an upstream API (sync HTTP) and caches it, records an event in
// MongoDB with a raw libmongoc call on a leased client, and posts a notification to a webhook
// (async HTTP) without blocking on it. Nothing is closed by hand: poolkit::pools() closes every
// pool at exit.
//
// Configured from the environment only:
//   REDIS_URL, MONGODB_URL, pool sizes...  poolkit's variables (docs/configuration.md)
//   POOLKIT_METRICS_ADDR  serve /metrics and /healthz there, e.g. 127.0.0.1:9464
//   UPSTREAM_URL          the snippet API; GET UPSTREAM_URL?id=N            (required)
//   NOTIFY_URL            the webhook; POST NOTIFY_URL with the snippet key  (required)
//   SNIPPET_COUNT         snippets to process (default 200)
//   SNIPPET_WORKERS       worker threads (default 8)
//   SNIPPET_HOLD_MS       stay up this long after the summary, e.g. to be scraped (default 0)
//
// Exit status: 0 when every snippet went through and every backend is healthy, 1 otherwise, 2 on
// bad configuration.

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <future>
#include <iostream>
#include <optional>
#include <poolkit/poolkit.hpp>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

using poolkit::http::Response;

// Few distinct snippets, so that the cache gets hits.
constexpr int kDistinctSnippets = 50;

std::string required_env(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0')
    throw std::invalid_argument(std::string(name) + " is not set (see the top of main.cpp)");
  return value;
}

int env_number(const char* name, int fallback, int minimum) {
  const char* text = std::getenv(name);
  if (text == nullptr) return fallback;
  int value = 0;
  const char* end = text + std::strlen(text);
  const auto [stop, error] = std::from_chars(text, end, value);
  if (error != std::errc{} || stop != end || value < minimum)
    throw std::invalid_argument(std::string(name) + "=\"" + text +
                                "\": expected a whole number >= " + std::to_string(minimum));
  return value;
}

struct Config {
  std::string upstream_url = required_env("UPSTREAM_URL");
  std::string notify_url = required_env("NOTIFY_URL");
  int snippets = env_number("SNIPPET_COUNT", 200, 1);
  int workers = env_number("SNIPPET_WORKERS", 8, 1);
  std::chrono::milliseconds hold{env_number("SNIPPET_HOLD_MS", 0, 0)};
};

struct Totals {
  std::atomic<int> fetched{0};
  std::atomic<int> cache_hits{0};
  std::atomic<int> stored{0};
  std::atomic<int> notified{0};
  std::atomic<int> failed{0};
};

void report_failure(int id, const std::string& what, Totals& totals) {
  ++totals.failed;
  std::cerr << "snippet " + std::to_string(id) + ": " + what + "\n";  // one write per line
}

std::string cached_or_fetched(const std::string& key, int id, const Config& config,
                              Totals& totals) {
  auto& redis = poolkit::pools().redis();
  if (std::optional<std::string> cached = redis.get(key)) {
    ++totals.cache_hits;
    return *cached;
  }
  const Response response =
      poolkit::pools().http_sync().get(config.upstream_url + "?id=" + std::to_string(id));
  if (response.status != 200)
    throw std::runtime_error("the upstream answered HTTP " + std::to_string(response.status));
  redis.set(key, response.body, {.ttl = std::chrono::minutes(5)});
  ++totals.fetched;
  return response.body;
}

void store_event(int id, const std::string& key, std::size_t bytes) {
  auto& mongo = poolkit::pools().mongo();
  poolkit::mongo::Document event;
  BSON_APPEND_INT32(event.get(), "snippet", id);
  BSON_APPEND_UTF8(event.get(), "key", key.c_str());
  BSON_APPEND_INT64(event.get(), "bytes", static_cast<std::int64_t>(bytes));

  // A pooled connection for this thread; a network failure closes it, and any failure is
  // thrown as a poolkit error naming "insert on snippets.events".
  mongo.with_collection(
      "snippets", "events",
      [&](mongoc_collection_t* events, bson_error_t& error) {
        return mongoc_collection_insert_one(events, event, nullptr, nullptr, &error);
      },
      "insert");
}

// One snippet; the notification is sent and its future returned, not awaited.
std::future<Response> process(int id, const Config& config, Totals& totals) {
  const std::string key = "snippet:" + std::to_string(id % kDistinctSnippets);
  const std::string body = cached_or_fetched(key, id % kDistinctSnippets, config, totals);
  store_event(id, key, body.size());
  ++totals.stored;
  return poolkit::pools().http().send(poolkit::http::Request::post(config.notify_url, key));
}

void work(const Config& config, std::atomic<int>& next_id, Totals& totals) {
  std::vector<std::pair<int, std::future<Response>>> notifications;
  for (int id = next_id++; id < config.snippets; id = next_id++) {
    try {
      notifications.emplace_back(id, process(id, config, totals));
    } catch (const std::exception& error) {
      report_failure(id, error.what(), totals);
    }
  }
  for (auto& [id, notification] : notifications) {
    try {
      const int status = notification.get().status;
      if (status / 100 != 2)
        throw std::runtime_error("notify answered HTTP " + std::to_string(status));
      ++totals.notified;
    } catch (const std::exception& error) {
      report_failure(id, error.what(), totals);
    }
  }
}

}  // namespace

int main() try {
  const Config config;
  auto& pools = poolkit::pools();  // reads the environment, serves /metrics when asked to
  pools.redis();                   // a missing REDIS_URL or MONGODB_URL fails here, once
  pools.mongo();
  if (const auto& address = pools.settings().metrics_addr)
    std::cout << "serving /metrics and /healthz on " << *address << std::endl;

  Totals totals;
  std::atomic<int> next_id{0};
  {
    std::vector<std::jthread> workers;
    for (int w = 0; w < config.workers; ++w)
      workers.emplace_back(work, std::cref(config), std::ref(next_id), std::ref(totals));
  }  // every worker joined

  const poolkit::Health health = pools.health({.http_probe_url = config.upstream_url});
  std::cout << "summary: snippets=" << config.snippets << " fetched=" << totals.fetched
            << " cache_hits=" << totals.cache_hits << " stored=" << totals.stored
            << " notified=" << totals.notified << " failed=" << totals.failed << "\n"
            << "health: " << health.to_json() << std::endl;
  std::this_thread::sleep_for(config.hold);
  return totals.failed == 0 && health.ok() ? 0 : 1;
} catch (const std::exception& error) {  // configuration errors: they say what to set
  std::cerr << "snippet_service: " << error.what() << '\n';
  return 2;
}
