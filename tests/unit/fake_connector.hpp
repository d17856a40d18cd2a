#pragma once
// A connector whose connections are plain numbers, with switches to make opening fail,
// health checks fail, or opening block, and counters a test can read.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <poolkit/pool.hpp>
#include <string>
#include <vector>

namespace poolkit::testing {

struct FakeServer {
  std::atomic<int> opened{0};
  std::atomic<int> closed{0};
  std::atomic<int> checks{0};
  std::atomic<bool> refuse{false};           // open throws ConnectError
  std::atomic<bool> open_times_out{false};   // open throws TimeoutError
  std::atomic<bool> open_throws_std{false};  // open throws a std::runtime_error
  std::atomic<bool> healthy{true};
  std::atomic<bool> check_throws{false};
  std::atomic<int> open_delay_ms{0};
  std::atomic<int> open_now{0};      // being opened right now
  std::atomic<int> max_open_now{0};  // most ever opened at once

  int live() const { return opened.load() - closed.load(); }
};

struct FakeConnection {
  int serial = 0;
  bool closed = false;
};

class FakeConnector {
 public:
  using Connection = FakeConnection;
  explicit FakeConnector(std::shared_ptr<FakeServer> server) : server_(std::move(server)) {}

  FakeConnection open(Deadline) {
    const int now = ++server_->open_now;
    int seen = server_->max_open_now.load();
    while (now > seen && !server_->max_open_now.compare_exchange_weak(seen, now)) {
    }
    if (server_->open_delay_ms > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(server_->open_delay_ms.load()));
    }
    --server_->open_now;
    if (server_->refuse) throw ConnectError(Backend::core, "fake server refused the connection");
    if (server_->open_times_out)
      throw TimeoutError(Backend::core, "fake server: connect timed out");
    if (server_->open_throws_std) throw std::runtime_error("fake driver blew up");
    return FakeConnection{++server_->opened, false};
  }
  bool check(FakeConnection&, Deadline) {
    ++server_->checks;
    if (server_->check_throws) throw std::runtime_error("fake check blew up");
    return server_->healthy.load();
  }
  void close(FakeConnection& connection) noexcept {
    connection.closed = true;
    ++server_->closed;
  }

 private:
  std::shared_ptr<FakeServer> server_;
};

// Records every event, for tests that assert on them.
class RecordingListener : public PoolListener {
 public:
  void on_event(const PoolEvent& event) noexcept override {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
    events_.back().pool_name = {};
    events_.back().address = {};
  }
  std::vector<PoolEvent> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  int count(PoolEventType type) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& e : events_) n += e.type == type ? 1 : 0;
    return n;
  }
  int closed_with(CloseReason reason) const {
    std::lock_guard lock(mutex_);
    int n = 0;
    for (const auto& e : events_) {
      n += e.type == PoolEventType::connection_closed && e.close_reason == reason ? 1 : 0;
    }
    return n;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<PoolEvent> events_;
};

// Polls until `done` holds or the (generous) limit passes; tests never depend on timing
// beyond that bound.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return done();
}

}  // namespace poolkit::testing
