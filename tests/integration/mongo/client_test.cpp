// mongo::Client against a real server: leases for libmongoc calls, the helpers, APM metrics.

#include <atomic>
#include <thread>
#include <vector>

#include "mongo_test_support.hpp"
#include "poolkit/error.hpp"

namespace poolkit::test {
namespace {

using mongo::Client;
using mongo::Document;

class MongoClient : public MongoTest {};

std::int64_t count_documents(mongoc_collection_t* collection, const bson_t& filter) {
  bson_error_t error;
  const std::int64_t n =
      mongoc_collection_count_documents(collection, &filter, nullptr, nullptr, nullptr, &error);
  EXPECT_GE(n, 0) << error.message;
  return n;
}

TEST_F(MongoClient, CrudThroughLeasesFromManyThreads) {
  MongoSettings s = settings();
  s.max_pool_size = 4;
  s.min_pool_size = 0;
  Client client(s);
  const std::string name = collection_name();
  constexpr int kThreads = 8;
  constexpr int kDocsPerThread = 25;
  std::atomic<int> failures{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kDocsPerThread; ++i) {
        auto lease = client.checkout();
        Collection collection(*lease, "poolkit_test", name);
        const int id = t * 1000 + i;
        bson_error_t error;
        bson_t* doc = BCON_NEW("_id", BCON_INT32(id), "thread", BCON_INT32(t), "n", BCON_INT32(0));
        bson_t* filter = BCON_NEW("_id", BCON_INT32(id));
        bson_t* update = BCON_NEW("$inc", "{", "n", BCON_INT32(1), "}");
        const bool ok =
            mongoc_collection_insert_one(collection.get(), doc, nullptr, nullptr, &error) &&
            mongoc_collection_update_one(collection.get(), filter, update, nullptr, nullptr,
                                         &error) &&
            count_documents(collection.get(), *filter) == 1;
        if (!ok) ++failures;
        bson_destroy(update);
        bson_destroy(filter);
        bson_destroy(doc);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);

  auto lease = client.checkout();
  Collection collection(*lease, "poolkit_test", name);
  bson_t* updated_once = BCON_NEW("n", BCON_INT32(1));
  EXPECT_EQ(count_documents(collection.get(), *updated_once), kThreads * kDocsPerThread);
  bson_destroy(updated_once);

  // Delete, then nothing is left.
  bson_t everything = BSON_INITIALIZER;
  bson_t reply;
  bson_error_t error;
  ASSERT_TRUE(mongoc_collection_delete_many(collection.get(), &everything, nullptr, &reply, &error))
      << error.message;
  bson_destroy(&reply);
  EXPECT_EQ(count_documents(collection.get(), everything), 0);
  EXPECT_LE(client.stats().pool.created, 4u);
}

TEST_F(MongoClient, PingMeasuresTheRoundTrip) {
  Client client(settings());
  const mongo::PingResult result = client.ping();
  EXPECT_GT(result.latency.count(), 0);
  EXPECT_LT(result.latency, std::chrono::seconds(5));
  EXPECT_EQ(result.reply.number("ok"), 1.0);
}

TEST_F(MongoClient, ServerStatusDescribesTheServer) {
  Client client(settings());
  const Document status = client.server_status();
  EXPECT_EQ(status.number("ok"), 1.0);
  EXPECT_TRUE(status.string("version").has_value());
  EXPECT_TRUE(status.has("uptime"));
}

TEST_F(MongoClient, ConnPoolStatsIsReportedAsUnsupportedWhereTheServerRefusesIt) {
  Client client(settings());
  const mongo::ConnPoolStatsResult result = client.conn_pool_stats();
  if (server().external()) {
    EXPECT_TRUE(result.supported) << result.unsupported_reason;
    return;
  }
  EXPECT_FALSE(result.supported);  // FerretDB has no connPoolStats
  EXPECT_NE(result.unsupported_reason.find("unsupported by this server"), std::string::npos)
      << result.unsupported_reason;
}

TEST_F(MongoClient, RunCommandJsonRoundTrips) {
  Client client(settings());
  const std::string reply = client.run_command_json("admin", R"({"ping": 1})");
  EXPECT_NE(reply.find("\"ok\""), std::string::npos) << reply;
  EXPECT_THROW(client.run_command_json("admin", "{not json"), ProtocolError);
}

TEST_F(MongoClient, AServerRefusalIsAServerErrorAndKeepsTheConnection) {
  Client client(settings());
  try {
    client.run_command_json("admin", R"({"noSuchCommandHere": 1})");
    FAIL() << "an unknown command must fail";
  } catch (const ServerError& error) {
    EXPECT_EQ(error.backend(), Backend::mongo);
    EXPECT_NE(std::string(error.what()).find("noSuchCommandHere"), std::string::npos)
        << error.what();
  }
  // Not a network failure: the connection went back to the pool.
  EXPECT_EQ(client.stats().pool.closed_total(), 0u);
  EXPECT_EQ(client.stats().pool.in_use, 0u);
}

TEST_F(MongoClient, ApmCountsCommandsByNameAndOutcome) {
  // No warm minimum: a background open could have pinged but not yet be counted as created
  // when stats() is read (seen under TSan); every open here happens inside a call.
  MongoSettings s = settings();
  s.min_pool_size = 0;
  Client client(s);
  client.ping();
  client.ping();
  EXPECT_THROW(client.run_command_json("admin", R"({"noSuchCommandHere": 1})"), ServerError);

  const mongo::MongoStats stats = client.stats();
  auto count = [&](std::string_view name, std::string_view outcome) -> std::uint64_t {
    for (const auto& op : stats.commands) {
      if (op.name == name && op.outcome == outcome) return op.count;
    }
    return 0;
  };
  // Each connection's open also pings once.
  EXPECT_EQ(count("ping", "ok"), 2 + stats.pool.created);
  EXPECT_EQ(count("noSuchCommandHere", "server_error"), 1u);
  // Connecting changed the server's description from Unknown to Standalone at least once.
  EXPECT_GE(stats.monitoring.server_description_changes, 1u);
  EXPECT_EQ(stats.monitoring.heartbeats_failed, 0u);
}

TEST_F(MongoClient, StatsExportAsPrometheusText) {
  Client client(settings());
  client.ping();
  MetricsSnapshot snapshot;
  mongo::add_metrics(snapshot, client.stats());
  const std::string text = snapshot.to_prometheus();
  for (const char* line : {"poolkit_operations_total{", "operation=\"ping\"", "outcome=\"ok\"",
                           "poolkit_mongo_heartbeats_total{", "outcome=\"failed\"",
                           "poolkit_mongo_server_description_changes_total{"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << " missing from:\n" << text;
  }
  EXPECT_TRUE(text.find("127.0.0.1") == std::string::npos) << "no address in labels";
}

TEST_F(MongoClient, HeartbeatsRunOnTheLeasedConnectionItself) {
  MongoSettings s = settings();
  s.heartbeat_frequency = std::chrono::milliseconds(500);
  s.min_pool_size = 0;
  s.max_pool_size = 1;
  Client client(s);
  const auto before = client.stats().monitoring.heartbeats_succeeded;
  // A single-threaded client checks its server at most every heartbeatFrequencyMS, when an
  // operation selects the server: ping for ~1.5 s.
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
  for (int i = 0; i < 1000 && std::chrono::steady_clock::now() < until; ++i) {
    client.ping();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_GE(client.stats().monitoring.heartbeats_succeeded, before + 2);
  // ... and never on a socket of its own.
  if (!server().external()) {
    EXPECT_TRUE(eventually([] { return server_connections() == 1; }, std::chrono::seconds(5)));
  }
}

}  // namespace
}  // namespace poolkit::test
