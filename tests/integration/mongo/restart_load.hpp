#pragma once
// Load for the restart tests (plain and TLS): threads running finds, recording what they saw.

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "poolkit/error.hpp"
#include "poolkit/mongo.hpp"

namespace poolkit::test {

using RestartClock = std::chrono::steady_clock;

// What the workers saw.
struct Outcomes {
  std::mutex mutex;
  std::map<std::string, int> errors;            // by poolkit error code, or "untyped"
  std::map<std::string, std::string> examples;  // the first message of each kind
  std::atomic<int> ok{0};
  std::atomic<std::int64_t> slowest_ms{0};

  void record_error(const std::string& kind, const std::string& message = {}) {
    std::lock_guard lock(mutex);
    ++errors[kind];
    examples.emplace(kind, message);
  }
  void record_duration(RestartClock::duration d) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    std::int64_t seen = slowest_ms.load();
    while (ms > seen && !slowest_ms.compare_exchange_weak(seen, ms)) {
    }
  }
  int failures() {
    std::lock_guard lock(mutex);
    int n = 0;
    for (const auto& [kind, count] : errors) n += count;
    return n;
  }
};

inline void work(mongo::Client& client, const std::string& collection, Outcomes& outcomes,
                 const std::atomic<bool>& stop) {
  for (int i = 0; i < 1'000'000 && !stop; ++i) {  // bounded; stops long before
    const auto started = RestartClock::now();
    try {
      bson_t* find = BCON_NEW("find", BCON_UTF8(collection.c_str()), "filter", "{", "_id",
                              BCON_INT32(i % 10), "}");
      try {
        client.run_command("poolkit_test", *find);
      } catch (...) {
        bson_destroy(find);
        throw;
      }
      bson_destroy(find);
      ++outcomes.ok;
    } catch (const Error& error) {
      outcomes.record_error(std::string(to_string(error.code())), error.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } catch (...) {
      outcomes.record_error("untyped");
    }
    outcomes.record_duration(RestartClock::now() - started);
  }
}

}  // namespace poolkit::test
