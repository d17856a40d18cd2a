// `poolkit bench mongo`: N threads each find one document by _id in a small collection seeded at
// start, through mongo::Client leases. With --no-reuse every operation opens its own connection
// (handshake and ping included) and closes it afterwards.

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <poolkit/error.hpp>
#include <poolkit/mongo.hpp>
#include <poolkit/settings.hpp>
#include <poolkit/url.hpp>

#include "bench_runner.hpp"
#include "bench_workloads.hpp"
#include "commands.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::cli {
namespace {

constexpr const char* kDatabase = "poolkit_bench";
constexpr const char* kCollection = "find_by_id";
constexpr int kDocuments = 100;

[[noreturn]] void invalid(const std::string& message) {
  fmt::print(stderr, "poolkit bench mongo: {}\n", message);
  throw CLI::RuntimeError(kExitInvalid);
}

// --pool-size (when given) and --no-reuse applied to the settings.
MongoSettings sized(MongoSettings settings, const BenchOptions& options) {
  if (options.pool_size != 0) settings.max_pool_size = options.pool_size;
  settings.min_pool_size = std::min(settings.min_pool_size, settings.max_pool_size);
  // Without reuse a warm minimum would only add connections nobody uses.
  if (!options.reuse) settings.min_pool_size = 0;
  return settings;
}

// MONGODB_* from the environment (and .env), with --url on top (--pool-size: sized()).
MongoSettings bench_settings(const BenchOptions& options) {
  MongoSettings settings;
  try {
    settings = Settings::from_environment().mongo;
    if (!options.url.empty()) settings.url = parse_url(options.url);
  } catch (const ConfigError& error) {
    invalid(error.what());
  }
  if (!settings.url) {
    invalid(
        fmt::format("no server: pass --url mongodb://host:port/ or set {}", setting::kMongodbUrl));
  }
  if (settings.url->scheme != "mongodb" && settings.url->scheme != "mongodb+srv") {
    invalid(fmt::format("--url {} is not a MongoDB URL: expected mongodb:// or mongodb+srv://",
                        settings.url->redacted()));
  }
  return settings;
}

mongo::Collection bench_collection(mongo::Lease& lease) {
  return mongo::Collection(*lease, kDatabase, kCollection);
}

void insert_document(mongo::Client& client, const mongo::Collection& collection, int id) {
  bson_error_t error;
  bson_t* doc =
      BCON_NEW("_id", BCON_INT32(id), "name", BCON_UTF8("snippet"), "lines", BCON_INT32(id * 3));
  const bool ok = mongoc_collection_insert_one(collection, doc, nullptr, nullptr, &error);
  bson_destroy(doc);
  if (!ok) client.raise(error, "seeding: insert_one");
}

// The collection holds exactly documents _id 0..kDocuments-1 (left from an earlier run, or
// written now).
void seed(mongo::Client& client) {
  auto lease = client.checkout();
  const mongo::Collection collection = bench_collection(lease);
  bson_error_t error;
  bson_t everything = BSON_INITIALIZER;
  bson_t* in_range =
      BCON_NEW("_id", "{", "$gte", BCON_INT32(0), "$lt", BCON_INT32(kDocuments), "}");
  const std::int64_t total =
      mongoc_collection_count_documents(collection, &everything, nullptr, nullptr, nullptr, &error);
  const std::int64_t wanted = total == kDocuments
                                  ? mongoc_collection_count_documents(collection, in_range, nullptr,
                                                                      nullptr, nullptr, &error)
                                  : -1;
  bson_destroy(in_range);
  if (total < 0) client.raise(error, "seeding: count_documents");
  if (wanted == kDocuments) return;
  if (!mongoc_collection_delete_many(collection, &everything, nullptr, nullptr, &error)) {
    client.raise(error, "seeding: delete_many");
  }
  for (int id = 0; id < kDocuments; ++id) insert_document(client, collection, id);
}

// Whether document `id` is there; false with `error` filled when the find failed.
bool find_one(mongoc_collection_t* collection, int id, bool& found, bson_error_t& error) {
  bson_t* filter = BCON_NEW("_id", BCON_INT32(id));
  bson_t* opts = BCON_NEW("limit", BCON_INT64(1));
  mongoc_cursor_t* cursor = mongoc_collection_find_with_opts(collection, filter, opts, nullptr);
  const bson_t* doc = nullptr;
  found = mongoc_cursor_next(cursor, &doc);
  const bool failed = mongoc_cursor_error(cursor, &error);
  mongoc_cursor_destroy(cursor);
  bson_destroy(opts);
  bson_destroy(filter);
  return !failed;
}

// One find by _id on a leased client; throws a poolkit error if the find failed (a network
// failure closes the connection). A missing document (a server restarted on empty storage) is
// written again: a miss, not an outage.
void find_by_id(mongo::Client& client, mongo::Lease& lease, int id) {
  bool found = true;
  client.with_collection(
      lease, kDatabase, kCollection,
      [&](mongoc_collection_t* collection, bson_error_t& error) {
        return find_one(collection, id, found, error);
      },
      "find");
  if (!found) insert_document(client, bench_collection(lease), id);
}

void run(BenchOptions options) {
  const MongoSettings settings = bench_settings(options);
  options.pool_size = sized(settings, options).max_pool_size;  // shown in the report
  try {
    seed_mongo(sized(settings, options));
  } catch (const ConfigError& error) {
    invalid(error.what());
  } catch (const Error& error) {
    fmt::print(stderr, "poolkit bench mongo: cannot seed {}.{}: {}\n", kDatabase, kCollection,
               error.what());
    throw CLI::RuntimeError(kExitFailure);
  }
  // The peak in use matters to a sweep (the recommended size). A plain run does without: the
  // sampler wakes every 10 ms, a cost of the tool that the peers in bench/mongo.sh do not pay.
  const bool sweep = !options.sweep.empty();
  run_bench_command(
      std::move(options),
      [&settings, sweep](const BenchOptions& run) {
        Workload workload = mongo_workload(run, settings);
        if (!sweep) workload.in_use = nullptr;
        return workload;
      },
      std::string(setting::kMongodbMaxPoolSize));
}

}  // namespace

void seed_mongo(const MongoSettings& settings) {
  mongo::Client seeder(settings);
  seed(seeder);
}

Workload mongo_workload(const BenchOptions& options, MongoSettings settings) {
  auto client = std::make_shared<mongo::Client>(sized(std::move(settings), options));
  const bool reuse = options.reuse;
  ThreadWorkload threads;
  threads.make_worker = [client, reuse](int worker) {
    return [client, reuse, next = worker * 7919]() mutable {
      auto lease = client->checkout();
      find_by_id(*client, lease, next++ % kDocuments);
      if (!reuse) lease.mark_broken();  // closed instead of returned: a connection per operation
    };
  };
  threads.connections_opened = [client] { return client->pool_stats().created; };
  Workload workload{.run = threads};
  workload.in_use = [client] { return client->pool_stats().in_use; };
  return workload;
}

namespace {

// Drops the endSessions warning (see quiet_mongoc_end_sessions_warnings); everything else goes
// to libmongoc's default handler.
void log_without_end_sessions_noise(mongoc_log_level_t level, const char* domain,
                                    const char* message, void* data) {
  if (level == MONGOC_LOG_LEVEL_WARNING && std::strstr(message, "endSessions") != nullptr) return;
  mongoc_log_default_handler(level, domain, message, data);
}

}  // namespace

void quiet_mongoc_end_sessions_warnings() {
  mongoc_log_set_handler(log_without_end_sessions_noise, nullptr);
}

void add_bench_mongo(CLI::App& bench) {
  auto options = std::make_shared<BenchOptions>();
  options->backend = "mongo";
  CLI::App* command = bench.add_subcommand(
      "mongo", "N threads find a document by _id in a small seeded collection");
  command->add_option("--url", options->url,
                      fmt::format("MongoDB URL (default: {})", setting::kMongodbUrl));
  add_bench_options(*command, *options);
  command->callback([options] { run(*options); });
}

}  // namespace poolkit::cli
