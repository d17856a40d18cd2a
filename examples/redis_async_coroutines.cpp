// The async Redis client from C++20 coroutines: a page-view counter for 1,000 "requests", each a
// coroutine that awaits three commands. They all share REDIS_MULTIPLEX_CONNECTIONS connections,
// and the commands they issue together go out together (see the batch sizes printed at the
// end).
//
//   REDIS_URL=redis://127.0.0.1:6379/0 ./poolkit_example_redis_async
//
// A coroutine resumes on the client's I/O thread unless told otherwise (keep that part short);
// the "report" step below resumes on a thread of its own through resume_on(), as an Asio user
// would post to an io_context.

#include <fmt/format.h>

#include <atomic>
#include <coroutine>
#include <exception>
#include <future>
#include <latch>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "poolkit/error.hpp"
#include "poolkit/pools.hpp"
#include "poolkit/redis_async.hpp"

namespace {

// The smallest coroutine type that will do: starts at once, frees itself at the end, and
// counts down `done` however it ends. Any coroutine type can co_await the client's awaitables.
struct Request {
  struct promise_type {
    Request get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept { std::terminate(); }
  };
};

std::atomic<int> failures{0};

Request handle_request(poolkit::redis::AsyncClient& redis, int id, std::latch& done) {
  const std::string page = fmt::format("example:page:{}", id % 10);
  try {
    // Three round trips for this request, shared with every other request in flight.
    const long long views = co_await redis.async_incr(page);
    co_await redis.async_set(page + ":last", std::to_string(id), {.ttl = std::chrono::seconds(60)});
    const std::optional<std::string> last = co_await redis.async_get(page + ":last");
    if (views <= 0 || !last) failures.fetch_add(1);
  } catch (const poolkit::Error& error) {
    // Every failure is a typed poolkit error: a timeout, a lost connection, the pending bound.
    fmt::print(stderr, "request {}: {}\n", id, error.what());
    failures.fetch_add(1);
  }
  done.count_down();
}

// Resumes on the thread that waits on `executor` instead of the I/O thread: a stand-in for a
// real executor (an Asio io_context, a thread pool).
Request report(poolkit::redis::AsyncClient& redis,
               std::promise<std::coroutine_handle<>>& executor) {
  const auto total =
      co_await redis.async_get("example:page:0")
          .resume_on([&executor](std::coroutine_handle<> handle) { executor.set_value(handle); });
  fmt::print("page 0 has {} views; this line runs on {} thread\n", total.value_or("no"),
             redis.on_io_thread() ? "the I/O" : "another");
}

}  // namespace

int main() {
  try {
    poolkit::redis::AsyncClient& redis = poolkit::pools().redis_async();
    constexpr int kRequests = 1000;
    std::latch done(kRequests);
    for (int id = 0; id < kRequests; ++id) handle_request(redis, id, done);
    done.wait();

    std::promise<std::coroutine_handle<>> executor;
    std::thread worker([handle = executor.get_future()]() mutable { handle.get().resume(); });
    report(redis, executor);
    worker.join();

    const auto stats = redis.stats();
    fmt::print(
        "{} requests, {} failed; {} commands in {} writes (up to {} per write) over {} "
        "connections\n",
        kRequests, failures.load(), stats.batched_commands, stats.writes, stats.max_batch,
        stats.connections);
    return failures.load() == 0 ? 0 : 1;
  } catch (const poolkit::Error& error) {
    fmt::print(stderr, "redis_async example: {}\n", error.what());
    return 2;
  }
}
