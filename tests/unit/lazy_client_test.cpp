#include "poolkit/detail/lazy_client.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace {

struct FakeClient {
  explicit FakeClient(std::atomic<int>& built) { ++built; }
  std::atomic<bool> closed{false};
  std::atomic<int> closes{0};
  void close() {
    closed = true;
    ++closes;
  }
  int use() const {
    if (closed) throw std::runtime_error("closed");
    return 1;
  }
};

}  // namespace

TEST(LazyClient, FirstUseFromManyThreadsBuildsExactlyOne) {
  std::atomic<int> built{0};
  poolkit::detail::LazyClient<FakeClient> slot([&] { return std::make_unique<FakeClient>(built); });
  std::vector<std::thread> threads;
  std::atomic<FakeClient*> seen[16] = {};
  for (int t = 0; t < 16; ++t) threads.emplace_back([&, t] { seen[t] = &slot.get(); });
  for (auto& t : threads) t.join();
  EXPECT_EQ(built.load(), 1);
  for (auto& s : seen) EXPECT_EQ(s.load(), seen[0].load());
}

TEST(LazyClient, CloseIsIdempotentAndTheNextUseBuildsAFreshClient) {
  std::atomic<int> built{0};
  poolkit::detail::LazyClient<FakeClient> slot([&] { return std::make_unique<FakeClient>(built); });
  EXPECT_FALSE(slot.close());  // nothing open yet
  FakeClient& first = slot.get();
  EXPECT_TRUE(slot.close());
  EXPECT_FALSE(slot.close());
  EXPECT_TRUE(first.closed);
  EXPECT_EQ(first.closes.load(), 1);
  EXPECT_THROW(first.use(), std::runtime_error);  // a stale reference fails cleanly
  FakeClient& second = slot.get();
  EXPECT_NE(&first, &second);
  EXPECT_EQ(second.use(), 1);
  EXPECT_EQ(built.load(), 2);
  EXPECT_EQ(slot.generations(), 2u);
}

TEST(LazyClient, AFailingFactoryIsRetriedOnTheNextUse) {
  int attempts = 0;
  std::atomic<int> built{0};
  poolkit::detail::LazyClient<FakeClient> slot([&]() -> std::unique_ptr<FakeClient> {
    if (++attempts == 1) throw std::runtime_error("not yet");
    return std::make_unique<FakeClient>(built);
  });
  EXPECT_THROW(slot.get(), std::runtime_error);
  EXPECT_EQ(slot.peek(), nullptr);
  EXPECT_EQ(slot.get().use(), 1);
}

TEST(LazyClient, CloseWhileOtherThreadsUseAndRecreateNeverTouchesFreedMemory) {
  std::atomic<int> built{0};
  poolkit::detail::LazyClient<FakeClient> slot([&] { return std::make_unique<FakeClient>(built); });
  std::atomic<bool> stop{false};
  std::atomic<long> uses{0}, closed_errors{0};
  std::vector<std::thread> users;
  for (int t = 0; t < 4; ++t)
    users.emplace_back([&] {
      while (!stop) {  // the closer below always sets stop, by its deadline at the latest
        try {
          uses += slot.get().use();
        } catch (const std::runtime_error&) {
          ++closed_errors;
        }
      }
    });
  // Each close waits for a use after the previous one, so the closes interleave with real
  // use even when the users' threads start late (as they can under a sanitizer on 2 cores).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int i = 0; i < 50; ++i) {
    const long seen = uses.load();
    while (uses.load() == seen && std::chrono::steady_clock::now() < deadline)
      std::this_thread::yield();
    slot.close();
  }
  stop = true;
  for (auto& t : users) t.join();
  EXPECT_GT(uses.load(), 0);
  EXPECT_GE(built.load(), 1);
  EXPECT_LE(built.load(), 51);
}
