// The raw libmongoc peer of `poolkit bench mongo`: the same work (N threads, each finds one
// document by _id in poolkit_bench.find_by_id, seeded by `poolkit bench mongo`) through a
// mongoc_client_pool_t with maxPoolSize=N. Prints one JSON object.
//
//   poolkit_mongo_raw_peer URL CONCURRENCY SECONDS

#include <mongoc/mongoc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "peer_latencies.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kDocuments = 100;

struct WorkerResult {
  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  std::vector<std::uint32_t> latencies_us;
};

bool find_by_id(mongoc_client_t* client, int id) {
  mongoc_collection_t* collection =
      mongoc_client_get_collection(client, "poolkit_bench", "find_by_id");
  bson_t* filter = BCON_NEW("_id", BCON_INT32(id));
  bson_t* opts = BCON_NEW("limit", BCON_INT64(1));
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(collection, filter, opts, nullptr);
  const bson_t* doc = nullptr;
  const bool found = mongoc_cursor_next(cursor, &doc);
  bson_error_t error;
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  mongoc_collection_destroy(collection);
  return found && !failed;
}

void work(mongoc_client_pool_t* pool, int worker, Clock::time_point end, WorkerResult& result) {
  result.latencies_us.reserve(1 << 16);
  for (int next = worker * 7919; Clock::now() < end; ++next) {
    const auto started = Clock::now();
    mongoc_client_t* client = mongoc_client_pool_pop(pool);
    const bool ok = find_by_id(client, next % kDocuments);
    mongoc_client_pool_push(pool, client);
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count();
    if (ok) {
      ++result.ops;
      result.latencies_us.push_back(static_cast<std::uint32_t>(us));
    } else {
      ++result.errors;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s URL CONCURRENCY SECONDS\n", argv[0]);
    return 2;
  }
  const int concurrency = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  if (concurrency < 1 || seconds <= 0) {
    std::fprintf(stderr, "CONCURRENCY must be >= 1 and SECONDS > 0\n");
    return 2;
  }
  mongoc_init();
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(argv[1], &error);
  if (uri == nullptr) {
    std::fprintf(stderr, "bad URL: %s\n", error.message);
    return 2;
  }
  mongoc_uri_set_option_as_int32(uri, MONGOC_URI_MAXPOOLSIZE, concurrency);
  mongoc_client_pool_t* pool = mongoc_client_pool_new(uri);
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);

  // Warm up one client per worker, as poolkit's run does with its pool.
  std::vector<mongoc_client_t*> warm;
  for (int i = 0; i < concurrency; ++i) warm.push_back(mongoc_client_pool_pop(pool));
  for (mongoc_client_t* client : warm) find_by_id(client, 0);
  for (mongoc_client_t* client : warm) mongoc_client_pool_push(pool, client);

  std::vector<WorkerResult> results(static_cast<std::size_t>(concurrency));
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int i = 0; i < concurrency; ++i) {
    threads.emplace_back([&, i] { work(pool, i, end, results[static_cast<std::size_t>(i)]); });
  }
  for (auto& thread : threads) thread.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::uint64_t ops = 0;
  std::uint64_t errors = 0;
  for (const auto& r : results) {
    ops += r.ops;
    errors += r.errors;
  }
  const auto latencies = poolkit::bench::sorted_latencies(
      results, [](const WorkerResult& r) -> const auto& { return r.latencies_us; });
  std::printf(
      "{\"peer\":\"libmongoc mongoc_client_pool_t\",\"concurrency\":%d,\"ops\":%llu,"
      "\"errors\":%llu,\"ops_per_sec\":%.1f,\"latency_us\":{\"p50\":%u,\"p99\":%u}}\n",
      concurrency, static_cast<unsigned long long>(ops), static_cast<unsigned long long>(errors),
      static_cast<double>(ops) / elapsed, poolkit::bench::quantile(latencies, 0.5),
      poolkit::bench::quantile(latencies, 0.99));

  mongoc_client_pool_destroy(pool);
  mongoc_uri_destroy(uri);
  mongoc_cleanup();
  return errors == 0 ? 0 : 1;
}
