#pragma once
// One client of the registry: created on first use, exactly once, from any number of threads;
// closed idempotently from any thread; created again by the next use after a close.
//
// A caller may hold the reference it got while another thread closes the registry, so a closed
// client is kept (closed: no connections, no threads) until the registry itself is destroyed. A
// late caller then gets the client's own "closed" error instead of touching freed memory. The
// next get() builds a fresh client. Getting an open client is one atomic load.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

namespace poolkit::detail {

template <class Client>
class LazyClient {
 public:
  using Factory = std::function<std::unique_ptr<Client>()>;

  explicit LazyClient(Factory factory) : factory_(std::move(factory)) {}
  LazyClient(const LazyClient&) = delete;
  LazyClient& operator=(const LazyClient&) = delete;
  ~LazyClient() { close(); }

  Client& get() {
    if (Client* client = current_.load(std::memory_order_acquire)) return *client;
    const std::lock_guard lock(mutex_);
    if (Client* client = current_.load(std::memory_order_relaxed)) return *client;
    owned_.push_back(
        factory_());  // a throwing factory leaves nothing behind: the next get() retries
    current_.store(owned_.back().get(), std::memory_order_release);
    return *owned_.back();
  }

  // The client if one is open now, without creating one.
  Client* peek() const noexcept { return current_.load(std::memory_order_acquire); }

  // Closes the open client, if any. Returns whether there was one.
  bool close() {
    const std::lock_guard lock(mutex_);
    Client* client = current_.exchange(nullptr, std::memory_order_acq_rel);
    if (client == nullptr) return false;
    client->close();
    return true;
  }

  // How many clients this slot has built (the open one and the closed ones kept alive).
  std::size_t generations() const {
    const std::lock_guard lock(mutex_);
    return owned_.size();
  }

 private:
  Factory factory_;
  mutable std::mutex mutex_;
  std::atomic<Client*> current_{nullptr};
  std::vector<std::unique_ptr<Client>> owned_;
};

}  // namespace poolkit::detail
