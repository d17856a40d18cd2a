#pragma once
// The client's picture of a cluster: one ClusterNode (a lazily opened pooled redis::Client) per
// node address, and an immutable slot → shard table that callers read without a lock and that a
// refresh or a MOVED replaces as a whole (copy on write).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "../../redis/cluster/key_slot.hpp"
#include "poolkit/redis.hpp"
#include "topology.hpp"

namespace poolkit::redis::detail {

// One node and its pool. The pool opens on first use, so a node that is only listed (a replica
// while reads go to masters) costs no connection; it closes when the last holder lets go, which
// is when the node has left the map and no call is still using it.
class ClusterNode {
 public:
  ClusterNode(NodeAddress address, RedisSettings settings, Options options)
      : address_(std::move(address)),
        settings_(std::move(settings)),
        options_(std::move(options)) {}

  const NodeAddress& address() const noexcept { return address_; }
  Client& client();
  // The client when it has been opened; nullptr otherwise (for stats).
  const Client* opened() const;

  // A node that just failed is passed over for reads for a moment (replicas only: a master is
  // the only place its slots' writes can go), instead of each read finding it dead again
  // until the cluster marks it failed and the map drops it.
  void note_failure(std::chrono::steady_clock::duration quarantine) noexcept {
    const auto until = std::chrono::steady_clock::now() + quarantine;
    down_until_.store(until.time_since_epoch().count(), std::memory_order_relaxed);
  }
  bool recently_failed() const noexcept {
    return std::chrono::steady_clock::now().time_since_epoch().count() <
           down_until_.load(std::memory_order_relaxed);
  }

 private:
  NodeAddress address_;
  RedisSettings settings_;  // the seeds' settings with this node's address
  Options options_;
  mutable std::mutex mutex_;  // taken only until the client exists
  std::unique_ptr<Client> client_;
  std::atomic<Client*> ready_{nullptr};
  std::atomic<std::chrono::steady_clock::rep> down_until_{
      0};  // client_ once made: every later call reads only this
};

struct Shard {
  std::shared_ptr<ClusterNode> master;
  std::vector<std::shared_ptr<ClusterNode>> replicas;
};

class SlotMap {
 public:
  static constexpr std::int16_t kUnserved = -1;

  SlotMap() { shard_of_slot_.fill(kUnserved); }

  // The master serving `slot`; nullptr when no shard does.
  std::shared_ptr<ClusterNode> master_of(std::uint16_t slot) const {
    const std::int16_t shard = shard_of_slot_[slot];
    return shard == kUnserved ? nullptr : shards_[static_cast<std::size_t>(shard)].master;
  }
  // The shard serving `slot`; nullptr when none does.
  const Shard* shard_of(std::uint16_t slot) const {
    const std::int16_t shard = shard_of_slot_[slot];
    return shard == kUnserved ? nullptr : &shards_[static_cast<std::size_t>(shard)];
  }
  // Some master, for commands without keys; nullptr when the map is empty.
  std::shared_ptr<ClusterNode> any_master() const {
    return shards_.empty() ? nullptr : shards_.front().master;
  }
  const std::vector<Shard>& shards() const noexcept { return shards_; }
  std::size_t slots_of(std::size_t shard) const;

  // Adds a shard (its slots taken from whichever shard had them).
  void add(Shard shard, const std::vector<SlotRange>& slots);
  // A copy with `slot` served by `node` (a MOVED): as a master of its own shard if it is not one.
  SlotMap with_slot_moved(std::uint16_t slot, std::shared_ptr<ClusterNode> node) const;

 private:
  std::vector<Shard> shards_;
  std::array<std::int16_t, kClusterSlots> shard_of_slot_{};
};

}  // namespace poolkit::redis::detail
