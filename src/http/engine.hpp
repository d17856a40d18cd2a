#pragma once
// The engine behind both HTTP clients: one libcurl multi handle, driven by one I/O thread.
// Callers hand requests over through a mutex-protected inbox and curl_multi_wakeup (only when
// the thread sleeps in curl_multi_poll); everything else (admission against the limits,
// retries, timers) lives on the I/O thread alone.
//
// libcurl's own CURLMOPT_MAX_*_CONNECTIONS queue is kept as a backstop but never relied on: a
// transfer queued inside libcurl has no timeout until it leaves the queue, and its wait is
// invisible. The engine admits a request only when a slot is free, so the wait counts against
// the request's timeout and shows in the metrics.

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "host_state.hpp"
#include "poolkit/http.hpp"
#include "tls.hpp"

namespace poolkit::http::detail {

// curl_global_init on first call; curl_global_cleanup once, when statics are destroyed. Runs in
// every Engine's constructor, so it is cleaned up after any Client with static storage duration.
// An owner that creates clients lazily (Pools) must call it in its own constructor, as for
// libmongoc (mongo_detail.hpp).
void ensure_curl_initialized();

struct Exchange;

class Engine {
 public:
  // An engine with its I/O thread running. The thread holds a reference of its own until its
  // loop ends, so a client dropped from one of its own callbacks (on the I/O thread) closes
  // the engine without destroying it under the running loop.
  static std::shared_ptr<Engine> start(Options options);
  explicit Engine(Options options);  // not started: use start()
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Thread-safe. `done` runs once: on the I/O thread, or at once on the caller's thread when
  // the request is invalid or the engine is closed.
  void submit(Request request, Callback done);
  void close(std::chrono::milliseconds drain);
  Metrics metrics() const;

 private:
  void run();
  bool loop_once();
  void take_inbox();
  void start_due_retries(Clock::time_point now);
  void expire_waiting(Clock::time_point now);
  void admit_waiting();
  bool has_slot(const HostState& host) const;
  void start_attempt(std::unique_ptr<Exchange> exchange);
  void collect_finished();
  void finish_attempt(CURL* easy, CURLcode code);
  void after_attempt(std::unique_ptr<Exchange> exchange, CURLcode code);
  void schedule_retry(std::unique_ptr<Exchange> exchange, std::chrono::milliseconds delay);
  void complete(std::unique_ptr<Exchange> exchange, std::exception_ptr error);
  void fail_all_queued(const std::string& why);
  void fail_all_running(const std::string& why);
  int poll_timeout_ms(Clock::time_point now) const;
  void wait_for_events(int timeout_ms);
  void wake() noexcept;
  // The host of an absolute URL; throws ConfigError when it does not parse.
  HostState& host_for_url(const std::string& url);
  void take_easy(Exchange& exchange);
  void recycle_easy(Exchange& exchange);

  Options options_;
  std::unique_ptr<TlsSetup> tls_;
  CURLM* multi_ = nullptr;
  std::unique_ptr<CircuitBreakers> breakers_;
  OperationStats stats_;

  // Shared with callers.
  mutable std::mutex inbox_mutex_;
  std::vector<std::unique_ptr<Exchange>> inbox_;
  bool closing_ = false;
  std::atomic<bool> io_sleeping_{false};
  Clock::time_point drain_deadline_{};
  std::mutex close_mutex_;
  std::thread io_thread_;

  mutable std::mutex hosts_mutex_;  // the map's shape; counters are atomics
  std::map<std::string, std::unique_ptr<HostState>, std::less<>> hosts_;
  std::map<std::string, HostState*, std::less<>> host_by_prefix_;
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::int64_t> peak_in_flight_{0};  // written by the I/O thread only

  // I/O thread only.
  std::deque<std::unique_ptr<Exchange>> waiting_;
  std::multimap<Clock::time_point, std::unique_ptr<Exchange>> retry_timers_;
  std::unordered_map<CURL*, std::unique_ptr<Exchange>> running_;
  std::vector<std::pair<CURL*, bool>> spare_easy_;  // with Exchange::easy_set_for_plain_get
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
};

}  // namespace poolkit::http::detail
