#pragma once
// The generic connection pool. A connector says how to open, check and close one
// connection; the pool owns every policy: bounds, waiting, idle and lifetime limits,
// health checks before reuse, leak reports, events and stats.
//
//   struct RedisConnector {
//     using Connection = RedisConnection;
//     Connection open(poolkit::Deadline deadline);           // throw on failure
//     bool check(Connection& c, poolkit::Deadline deadline);  // e.g. PING
//     void close(Connection& c) noexcept;
//   };
//   poolkit::Pool<RedisConnector> pool(RedisConnector{...}, options);
//   auto lease = pool.checkout();   // returns itself when it goes out of scope
//   lease->send(...);

#include <chrono>
#include <concepts>
#include <memory>
#include <utility>

#include "poolkit/detail/pool_engine.hpp"
#include "poolkit/pool_events.hpp"
#include "poolkit/pool_options.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit {

using Deadline = std::chrono::steady_clock::time_point;

template <class C>
concept Connector = std::movable<typename C::Connection> &&
    requires(C& connector, typename C::Connection& connection, Deadline deadline) {
  { connector.open(deadline) } -> std::same_as<typename C::Connection>;
  { connector.check(connection, deadline) } -> std::same_as<bool>;
  { connector.close(connection) }
  noexcept;
};

// A checked-out connection. Returns itself to the pool when destroyed; a connection left
// in an unknown state (a half-read reply, a broken socket) must be marked broken so the
// pool closes it instead of handing it to the next caller.
template <class Connection>
class Lease {
 public:
  Lease() = default;
  Lease(Lease&& other) noexcept
      : core_(std::exchange(other.core_, nullptr)),
        slot_(std::exchange(other.slot_, nullptr)),
        connection_(std::exchange(other.connection_, nullptr)) {}
  Lease& operator=(Lease&& other) noexcept {
    if (this != &other) {
      release();
      core_ = std::exchange(other.core_, nullptr);
      slot_ = std::exchange(other.slot_, nullptr);
      connection_ = std::exchange(other.connection_, nullptr);
    }
    return *this;
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() { release(); }

  Connection& operator*() const noexcept { return get(); }
  Connection* operator->() const noexcept { return &get(); }
  Connection& get() const noexcept { return static_cast<Box&>(*connection_).value; }
  explicit operator bool() const noexcept { return slot_ != nullptr; }

  std::uint64_t connection_id() const noexcept { return detail::connection_id(*slot_); }
  void mark_broken() noexcept { detail::mark_broken(*slot_); }
  // Returns the connection now instead of at scope exit.
  void release() noexcept {
    if (slot_ != nullptr) detail::checkin(*core_, std::exchange(slot_, nullptr));
    core_ = nullptr;
    connection_ = nullptr;
  }

 private:
  template <Connector>
  friend class Pool;
  struct Box final : detail::ConnectionBox {
    explicit Box(Connection&& c) : value(std::move(c)) {}
    Connection value;
  };
  Lease(detail::PoolCore* core, detail::CheckedOut checked_out)
      : core_(core), slot_(checked_out.slot), connection_(checked_out.connection) {}

  detail::PoolCore* core_ = nullptr;
  detail::Slot* slot_ = nullptr;
  detail::ConnectionBox* connection_ = nullptr;
};

template <Connector C>
class Pool {
 public:
  using Connection = typename C::Connection;
  using LeaseType = Lease<Connection>;

  Pool(C connector, PoolOptions options, std::shared_ptr<PoolListener> listener = nullptr)
      : core_(detail::create_pool(std::make_unique<Adapter>(std::move(connector)),
                                  std::move(options), std::move(listener))) {}
  Pool(Pool&&) noexcept = default;
  Pool& operator=(Pool&&) noexcept = default;

  // Waits up to the pool's wait_queue_timeout; throws PoolTimeoutError, PoolClosedError,
  // PoolClearedError, or the connector's error when opening a connection failed.
  LeaseType checkout() { return LeaseType(core_.get(), detail::checkout(*core_)); }
  LeaseType checkout(std::chrono::milliseconds timeout) {
    return LeaseType(core_.get(), detail::checkout(*core_, timeout));
  }

  void ready() { detail::ready(*core_); }
  // Makes every current connection stale (closed when idle or returned); see ClearMode for
  // what happens to the waiters and later check-outs.
  void clear(ClearMode mode = ClearMode::keep_ready) { detail::clear(*core_, mode); }
  void close() { detail::close(*core_); }
  PoolStats stats() const { return detail::stats(*core_); }
  const PoolOptions& options() const noexcept { return detail::options(*core_); }

 private:
  using Box = typename LeaseType::Box;

  class Adapter final : public detail::Driver {
   public:
    explicit Adapter(C connector) : connector_(std::move(connector)) {}
    std::unique_ptr<detail::ConnectionBox> open(Deadline deadline) override {
      return std::make_unique<Box>(connector_.open(deadline));
    }
    bool check(detail::ConnectionBox& box, Deadline deadline) override {
      return connector_.check(static_cast<Box&>(box).value, deadline);
    }
    void close(detail::ConnectionBox& box) noexcept override {
      connector_.close(static_cast<Box&>(box).value);
    }

   private:
    C connector_;
  };

  detail::PoolCorePtr core_;
};

}  // namespace poolkit
