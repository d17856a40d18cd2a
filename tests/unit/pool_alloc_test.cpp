// The hot path (check-out of an idle connection, check-in) allocates nothing: counted by
// replacing the global operator new for this test binary.

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <poolkit/pool.hpp>

namespace {
thread_local std::size_t t_allocations = 0;
}  // namespace

void* operator new(std::size_t size) {
  ++t_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace poolkit {
namespace {

struct Plain {
  int uses = 0;
};
struct PlainConnector {
  using Connection = Plain;
  Plain open(Deadline) { return {}; }
  bool check(Plain&, Deadline) { return true; }
  void close(Plain&) noexcept {}
};

TEST(PoolHotPath, CheckoutOfAnIdleConnectionAndCheckinAllocateNothing) {
  PoolOptions options;
  options.max_size = 4;
  options.max_idle_time = std::chrono::seconds(60);
  options.health_check_interval = std::chrono::seconds(60);
  Pool<PlainConnector> pool(PlainConnector{}, options);
  const std::size_t at_start = t_allocations;
  { auto warm = pool.checkout(); }  // opening the first connection allocates its box
  ASSERT_GT(t_allocations, at_start) << "the allocation counter is not counting";
  const std::size_t before = t_allocations;
  for (int i = 0; i < 1000; ++i) {
    auto lease = pool.checkout();
    ++lease->uses;
  }
  EXPECT_EQ(t_allocations - before, 0u);
}

}  // namespace
}  // namespace poolkit
