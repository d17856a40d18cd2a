#pragma once
// The pool's one background thread: runs the core's periodic work (idle and stale reaping,
// leak reports, the warm minimum) every background_interval, or at once when woken. Its flags
// are guarded by the core's mutex, which its condition variable waits on.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace poolkit::detail {

class Maintenance {
 public:
  // `due_now`: run the first round at once instead of after one interval.
  Maintenance(std::mutex& mutex, bool due_now) : mutex_(mutex), due_now_(due_now) {}
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;
  ~Maintenance() { join(); }

  void start(std::chrono::milliseconds interval, std::function<void()> round);
  // Runs a round now rather than at the next tick.
  void wake();
  // Under the mutex: the thread stops after its current round, and stopping_locked() says so.
  void request_stop_locked() noexcept { stopping_ = true; }
  bool stopping_locked() const noexcept { return stopping_; }
  // Without the mutex, after request_stop_locked(): wakes the thread and waits for it.
  void stop_and_join();

 private:
  void loop(std::chrono::milliseconds interval, const std::function<void()>& round);
  void join();

  std::mutex& mutex_;
  std::condition_variable cv_;
  bool due_now_ = false;   // guarded by mutex_
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace poolkit::detail
