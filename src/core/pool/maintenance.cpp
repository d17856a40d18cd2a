#include "maintenance.hpp"

#include <algorithm>

namespace poolkit::detail {

void Maintenance::start(std::chrono::milliseconds interval, std::function<void()> round) {
  thread_ = std::thread([this, interval, round = std::move(round)] { loop(interval, round); });
}

void Maintenance::wake() {
  {
    std::lock_guard lock(mutex_);
    due_now_ = true;
  }
  cv_.notify_one();
}

void Maintenance::stop_and_join() {
  cv_.notify_one();
  join();
}

void Maintenance::join() {
  if (thread_.joinable()) thread_.join();
}

void Maintenance::loop(std::chrono::milliseconds interval, const std::function<void()>& round) {
  interval = std::max(interval, std::chrono::milliseconds(1));
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    cv_.wait_for(lock, interval, [&] { return stopping_ || due_now_; });
    if (stopping_) break;
    due_now_ = false;
    lock.unlock();
    round();
    lock.lock();
  }
}

}  // namespace poolkit::detail
