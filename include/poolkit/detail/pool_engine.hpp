#pragma once
// What the poolkit::Pool<Connector> template needs of the type-erased engine behind it, and
// nothing more: the engine itself (slots, wait queue, counters, maintenance) is private to the
// library, in src/core/pool/. Users never touch this header directly.

#include <chrono>
#include <cstdint>
#include <memory>

#include "poolkit/pool_events.hpp"
#include "poolkit/pool_options.hpp"
#include "poolkit/pool_stats.hpp"

namespace poolkit::detail {

using Clock = std::chrono::steady_clock;

// Holds one user connection; the typed subclass lives in pool.hpp.
class ConnectionBox {
 public:
  virtual ~ConnectionBox() = default;
};

// The connector, with its connection type erased.
class Driver {
 public:
  virtual ~Driver() = default;
  virtual std::unique_ptr<ConnectionBox> open(Clock::time_point deadline) = 0;
  virtual bool check(ConnectionBox& connection, Clock::time_point deadline) = 0;
  virtual void close(ConnectionBox& connection) noexcept = 0;
};

class PoolCore;
struct Slot;

// Deleter for the owning pointer: closes the pool and frees it once no lease is out.
struct OwnerRelease {
  void operator()(PoolCore* core) const noexcept;
};
using PoolCorePtr = std::unique_ptr<PoolCore, OwnerRelease>;

// What a check-out hands a lease: the slot to give back, and the connection it holds (kept
// by the lease, so reaching the connection costs no call).
struct CheckedOut {
  Slot* slot = nullptr;
  ConnectionBox* connection = nullptr;
};

// Validates the options (ConfigError) and starts the maintenance task.
PoolCorePtr create_pool(std::unique_ptr<Driver> driver, PoolOptions options,
                        std::shared_ptr<PoolListener> listener);
CheckedOut checkout(PoolCore& core);  // waits up to the pool's wait_queue_timeout
CheckedOut checkout(PoolCore& core, std::chrono::milliseconds timeout);
void checkin(PoolCore& core, Slot* slot) noexcept;
std::uint64_t connection_id(const Slot& slot) noexcept;
void mark_broken(Slot& slot) noexcept;

void ready(PoolCore& core);
void clear(PoolCore& core, ClearMode mode);
void close(PoolCore& core);
PoolStats stats(const PoolCore& core);
const PoolOptions& options(const PoolCore& core) noexcept;

}  // namespace poolkit::detail
