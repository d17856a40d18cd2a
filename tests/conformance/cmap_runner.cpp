// poolkit-cmap-runner PATH...
//
// Runs MongoDB CMAP-format unit tests (JSON files, or folders of them) against poolkit's
// generic pool with a fake connection, prints one line per file and a final
// "N passed, N failed" line, and exits non-zero if any failed.

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <poolkit/pool.hpp>
#include <thread>
#include <vector>

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A connection with nothing but the id the pool gives it.
struct FakeConnection {};
struct FakeConnector {
  using Connection = FakeConnection;
  FakeConnection open(poolkit::Deadline) { return {}; }
  bool check(FakeConnection&, poolkit::Deadline) { return true; }
  void close(FakeConnection&) noexcept {}
};
using CmapPool = poolkit::Pool<FakeConnector>;
using Lease = CmapPool::LeaseType;

struct TestFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

json options_as_cmap(const poolkit::PoolOptions& o) {
  return {{"maxPoolSize", o.max_size},
          {"minPoolSize", o.min_size},
          {"maxIdleTimeMS", o.max_idle_time.count()},
          {"waitQueueTimeoutMS", o.wait_queue_timeout.count()},
          {"maxConnecting", o.max_connecting},
          {"backgroundThreadIntervalMS", o.background_interval.count()}};
}

json event_as_cmap(const poolkit::PoolEvent& e) {
  using T = poolkit::PoolEventType;
  json j = {{"type", poolkit::cmap_name(e.type)}, {"address", std::string(e.address)}};
  const auto duration_ms = std::chrono::duration<double, std::milli>(e.duration).count();
  switch (e.type) {
    case T::pool_created:
      j["options"] = options_as_cmap(*e.options);
      break;
    case T::pool_cleared:
      j["interruptInUseConnections"] = e.interrupt_in_use;
      break;
    case T::connection_created:
    case T::checked_in:
      j["connectionId"] = e.connection_id;
      break;
    case T::connection_ready:
    case T::checked_out:
      j["connectionId"] = e.connection_id;
      j["duration"] = duration_ms;
      break;
    case T::connection_closed:
      j["connectionId"] = e.connection_id;
      j["reason"] = poolkit::cmap_name(e.close_reason);
      break;
    case T::check_out_failed:
      j["reason"] = poolkit::cmap_name(e.failure);
      j["duration"] = duration_ms;
      break;
    default:
      break;
  }
  return j;
}

class EventLog : public poolkit::PoolListener {
 public:
  void on_event(const poolkit::PoolEvent& event) noexcept override {
    json j = event_as_cmap(event);
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(j));
    changed_.notify_all();
  }
  bool wait_for(const std::string& type, std::size_t count, std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return count_locked(type) >= count; });
  }
  std::vector<json> snapshot() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  std::size_t count_locked(const std::string& type) const {
    return static_cast<std::size_t>(std::count_if(
        events_.begin(), events_.end(), [&](const json& e) { return e["type"] == type; }));
  }
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<json> events_;
};

// A named thread of the test, running the operations sent to it in order.
class OpThread {
 public:
  explicit OpThread(std::function<void(const json&)> execute)
      : execute_(std::move(execute)), thread_([this] { run(); }) {}
  ~OpThread() { stop(); }

  void post(json op) {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(op));
    changed_.notify_all();
  }
  // Waits until every posted operation has run; false if the limit passed first.
  bool drain(std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, limit, [&] { return queue_.empty() && !busy_; });
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      changed_.notify_all();
    }
    if (thread_.joinable()) thread_.join();
  }
  std::exception_ptr error() {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void run() {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;
      json op = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      std::exception_ptr failure;
      try {
        execute_(op);
      } catch (...) {
        failure = std::current_exception();
      }
      lock.lock();
      busy_ = false;
      if (failure && !error_) error_ = failure;
      changed_.notify_all();
    }
  }

  std::function<void(const json&)> execute_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<json> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

std::string error_type(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const poolkit::PoolTimeoutError&) {
    return "WaitQueueTimeoutError";
  } catch (const poolkit::PoolClosedError&) {
    return "PoolClosedError";
  } catch (const poolkit::PoolClearedError&) {
    return "PoolClearedError";
  } catch (const poolkit::Error& e) {
    return fmt::format("poolkit::Error({})", poolkit::to_string(e.code()));
  } catch (const std::exception& e) {
    return fmt::format("std::exception({})", e.what());
  }
}

poolkit::PoolOptions pool_options(const json& given) {
  poolkit::PoolOptions o;
  o.name = "cmap";
  o.address = "127.0.0.1:27017";
  o.start_paused = true;  // a CMAP pool is paused until ready()
  o.wait_queue_timeout = 30s;
  auto ms = [&](const char* key) { return std::chrono::milliseconds(given[key].get<long>()); };
  if (given.contains("maxPoolSize")) {
    const auto max = given["maxPoolSize"].get<std::size_t>();
    o.max_size = max == 0 ? 1'000'000 : max;  // 0 means "no limit" in CMAP
  }
  if (given.contains("minPoolSize")) o.min_size = given["minPoolSize"].get<std::size_t>();
  if (given.contains("maxConnecting")) o.max_connecting = given["maxConnecting"].get<std::size_t>();
  if (given.contains("maxIdleTimeMS")) o.max_idle_time = ms("maxIdleTimeMS");
  if (given.contains("waitQueueTimeoutMS") && given["waitQueueTimeoutMS"].get<long>() > 0) {
    o.wait_queue_timeout = ms("waitQueueTimeoutMS");
  }
  if (given.contains("backgroundThreadIntervalMS")) {
    o.background_interval = ms("backgroundThreadIntervalMS");
  }
  return o;
}

// An expected value matches when equal; 42 or "42" means "present, any value"; objects
// match when every key they list matches.
bool matches(const json& expected, const json& actual) {
  if (expected == 42 || expected == "42") return true;
  if (expected.is_object()) {
    if (!actual.is_object()) return false;
    for (const auto& [key, value] : expected.items()) {
      if (!actual.contains(key) || !matches(value, actual[key])) return false;
    }
    return true;
  }
  if (expected.is_number() && actual.is_number()) {
    return expected.get<double>() == actual.get<double>();
  }
  return expected == actual;
}

class TestRun {
 public:
  explicit TestRun(const json& test)
      : test_(test),
        log_(std::make_shared<EventLog>()),
        pool_(FakeConnector{}, pool_options(test.value("poolOptions", json::object())), log_) {}

  ~TestRun() {
    pool_.close();  // wakes any thread still waiting
    threads_.clear();
    std::lock_guard lock(leases_mutex_);
    labelled_.clear();
    unlabelled_.clear();
  }

  void run() {
    std::exception_ptr main_error;
    try {
      for (const auto& op : test_.at("operations")) {
        if (op.contains("thread")) {
          thread(op["thread"].get<std::string>()).post(op);
        } else {
          execute(op);
        }
      }
    } catch (const TestFailure&) {
      throw;
    } catch (...) {
      main_error = std::current_exception();
    }
    for (auto& [name, t] : threads_) {
      if (!t->drain(5s)) throw TestFailure(fmt::format("thread {} did not finish", name));
    }
    check_error(main_error);
    check_events(log_->snapshot());
  }

 private:
  OpThread& thread(const std::string& name) {
    auto it = threads_.find(name);
    if (it == threads_.end()) throw TestFailure("operation on unknown thread " + name);
    return *it->second;
  }

  void execute(const json& op) {
    const auto name = op.at("name").get<std::string>();
    if (name == "start") {
      threads_[op.at("target").get<std::string>()] =
          std::make_unique<OpThread>([this](const json& o) { execute(o); });
    } else if (name == "wait") {
      std::this_thread::sleep_for(std::chrono::milliseconds(op.at("ms").get<long>()));
    } else if (name == "waitForThread") {
      auto& t = thread(op.at("target").get<std::string>());
      if (!t.drain(10s)) throw TestFailure("waitForThread: thread did not finish");
      if (auto error = t.error()) std::rethrow_exception(error);
    } else if (name == "waitForEvent") {
      const auto limit = std::chrono::milliseconds(op.value("timeout", 10000L));
      const auto type = op.at("event").get<std::string>();
      if (!log_->wait_for(type, op.at("count").get<std::size_t>(), limit)) {
        throw TestFailure(fmt::format("waitForEvent: {} x{} not seen within {} ms", type,
                                      op.at("count").get<int>(), limit.count()));
      }
    } else if (name == "checkOut") {
      Lease lease = pool_.checkout();
      std::lock_guard lock(leases_mutex_);
      if (op.contains("label")) {
        labelled_[op["label"].get<std::string>()] = std::move(lease);
      } else {
        unlabelled_.push_back(std::move(lease));
      }
    } else if (name == "checkIn") {
      Lease lease;
      {
        std::lock_guard lock(leases_mutex_);
        auto it = labelled_.find(op.at("connection").get<std::string>());
        if (it == labelled_.end()) throw TestFailure("checkIn of an unknown connection label");
        lease = std::move(it->second);
        labelled_.erase(it);
      }
      lease.release();
    } else if (name == "clear") {
      pool_.clear(op.value("interruptInUseConnections", false)
                      ? poolkit::ClearMode::pause_and_interrupt_in_use
                      : poolkit::ClearMode::pause);
    } else if (name == "close") {
      pool_.close();
    } else if (name == "ready") {
      pool_.ready();
    } else {
      throw TestFailure("unknown operation " + name);
    }
  }

  void check_error(const std::exception_ptr& error) const {
    if (!test_.contains("error")) {
      if (error) throw TestFailure("unexpected error: " + error_type(error));
      return;
    }
    const auto expected = test_["error"]["type"].get<std::string>();
    if (!error) throw TestFailure("expected error " + expected + ", got none");
    if (error_type(error) != expected) {
      throw TestFailure(fmt::format("expected error {}, got {}", expected, error_type(error)));
    }
  }

  void check_events(const std::vector<json>& all) const {
    const json ignore = test_.value("ignore", json::array());
    std::vector<json> actual;
    for (const auto& e : all) {
      if (std::find(ignore.begin(), ignore.end(), e["type"]) == ignore.end()) actual.push_back(e);
    }
    const json& expected = test_.at("events");
    for (std::size_t i = 0; i < expected.size(); ++i) {
      if (i >= actual.size()) {
        throw TestFailure(fmt::format("event {}: expected {}, but only {} events were emitted", i,
                                      expected[i].dump(), actual.size()));
      }
      if (!matches(expected[i], actual[i])) {
        throw TestFailure(
            fmt::format("event {}: expected {}, got {}", i, expected[i].dump(), actual[i].dump()));
      }
    }
  }

  const json& test_;
  std::shared_ptr<EventLog> log_;
  CmapPool pool_;
  std::map<std::string, std::unique_ptr<OpThread>> threads_;
  std::mutex leases_mutex_;
  std::map<std::string, Lease> labelled_;
  std::vector<Lease> unlabelled_;
};

std::vector<fs::path> collect(int argc, char** argv) {
  std::vector<fs::path> files;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    if (fs::is_directory(path)) {
      for (const auto& entry : fs::recursive_directory_iterator(path)) {
        if (entry.is_regular_file() && entry.path().extension() == ".json") {
          files.push_back(entry.path());
        }
      }
    } else if (fs::is_regular_file(path)) {
      files.push_back(path);
    } else {
      throw std::runtime_error(fmt::format("{}: no such file or folder", path.string()));
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: {} PATH... (CMAP-format JSON files or folders of them)\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> files;
  try {
    files = collect(argc, argv);
  } catch (const std::exception& e) {
    fmt::print(stderr, "poolkit-cmap-runner: {}\n", e.what());
    return 2;
  }
  int passed = 0;
  int failed = 0;
  int skipped = 0;
  for (const auto& file : files) {
    try {
      std::ifstream in(file);
      const json test = json::parse(in);
      if (test.value("style", "unit") != "unit") {
        // Integration-style files need a real server with fail points; not this runner's job.
        fmt::print("SKIP {}: style \"{}\" needs a server\n", file.filename().string(),
                   test.value("style", ""));
        ++skipped;
        continue;
      }
      TestRun(test).run();
      fmt::print("PASS {}\n", file.filename().string());
      ++passed;
    } catch (const std::exception& e) {
      fmt::print("FAIL {}: {}\n", file.filename().string(), e.what());
      ++failed;
    }
  }
  if (skipped > 0) {
    fmt::print("{} passed, {} failed, {} skipped\n", passed, failed, skipped);
  } else {
    fmt::print("{} passed, {} failed\n", passed, failed);
  }
  return failed == 0 && passed > 0 ? 0 : 1;
}
