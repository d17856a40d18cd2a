#include "slot_map.hpp"

#include <algorithm>

namespace poolkit::redis::detail {

Client& ClusterNode::client() {
  if (Client* client = ready_.load(std::memory_order_acquire)) return *client;
  const std::lock_guard lock(mutex_);
  if (!client_) {
    client_ = std::make_unique<Client>(settings_, options_);
    ready_.store(client_.get(), std::memory_order_release);
  }
  return *client_;
}

const Client* ClusterNode::opened() const {
  return ready_.load(std::memory_order_acquire);
}

std::size_t SlotMap::slots_of(std::size_t shard) const {
  return static_cast<std::size_t>(
      std::count(shard_of_slot_.begin(), shard_of_slot_.end(), static_cast<std::int16_t>(shard)));
}

void SlotMap::add(Shard shard, const std::vector<SlotRange>& slots) {
  const auto index = static_cast<std::int16_t>(shards_.size());
  shards_.push_back(std::move(shard));
  for (const SlotRange& range : slots) {
    for (std::uint32_t slot = range.first; slot <= range.last && slot < kClusterSlots; ++slot) {
      shard_of_slot_[slot] = index;
    }
  }
}

SlotMap SlotMap::with_slot_moved(std::uint16_t slot, std::shared_ptr<ClusterNode> node) const {
  SlotMap copy = *this;
  const auto found = std::find_if(copy.shards_.begin(), copy.shards_.end(),
                                  [&](const Shard& shard) { return shard.master == node; });
  if (found != copy.shards_.end()) {
    copy.shard_of_slot_[slot] = static_cast<std::int16_t>(found - copy.shards_.begin());
  } else {
    copy.shard_of_slot_[slot] = static_cast<std::int16_t>(copy.shards_.size());
    copy.shards_.push_back(Shard{std::move(node), {}});
  }
  return copy;
}

}  // namespace poolkit::redis::detail
