// `poolkit bench http`: GET one URL with N requests in flight on the async client, or from N
// threads on the sync client (--sync), configured from the AIOHTTP_* / REQUESTS_* settings.

#include <fmt/format.h>

#include <memory>
#include <poolkit/http.hpp>
#include <poolkit/settings.hpp>
#include <poolkit/url.hpp>
#include <type_traits>

#include "bench_runner.hpp"
#include "bench_workloads.hpp"
#include "commands.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::cli {
namespace {

struct HttpBenchArguments {
  BenchOptions bench;
  bool sync = false;
};

void require_http_url(const std::string& url) {
  std::string problem;
  try {
    const Url parsed = parse_url(url);
    if (parsed.scheme != "http" && parsed.scheme != "https") {
      problem = "scheme '" + parsed.scheme + "' is not http or https";
    }
  } catch (const ConfigError& error) {
    problem = error.what();
  }
  if (!problem.empty()) {
    fmt::print(stderr, "poolkit bench http: --url {}: {}; give e.g. http://127.0.0.1:8080/\n",
               redact_url_text(url), problem);
    throw CLI::RuntimeError(kExitInvalid);
  }
}

Settings bench_settings() {
  try {
    return Settings::from_environment();
  } catch (const ConfigError& error) {
    fmt::print(stderr, "poolkit bench http: {}\n", error.what());
    throw CLI::RuntimeError(kExitInvalid);
  }
}

// The client for one run (a --sweep makes one per pool size): the pool is --pool-size (or the
// setting) per host, and for the async client in all; --no-reuse opens a connection per request.
http::ClientOptions client_options(bool sync, const BenchOptions& run, const Settings& settings) {
  auto options = sync ? http::ClientOptions::from(settings.http_sync)
                      : http::ClientOptions::from(settings.http_async);
  options.max_connections_per_host = run.pool_size;
  if (!sync) options.max_connections = run.pool_size;
  options.reuse_connections = run.reuse;
  return options;
}

// A status of 400 or more is the server's error: the bench counts it as one, not as an operation.
void throw_unless_success(const http::Response& response, const std::string& url) {
  if (response.status >= 400) {
    throw ServerError(Backend::http,
                      fmt::format("GET {} answered HTTP {}: the bench counts a status of 400 or "
                                  "more as a server error; give a URL that answers 2xx or 3xx",
                                  redact_url_text(url), response.status));
  }
}

AsyncWorkload async_workload(const std::shared_ptr<http::AsyncClient>& client, std::string url) {
  AsyncWorkload workload;
  // Shared with each completion, which names it in an error (and may outlive the workload).
  auto shared_url = std::make_shared<const std::string>(std::move(url));
  workload.start = [client, shared_url](std::function<void(std::exception_ptr)> done) {
    client->send(http::Request::get(*shared_url),
                 [shared_url, done = std::move(done)](http::Result result) {
                   if (!result.error && result.response.status >= 400) {
                     try {
                       throw_unless_success(result.response, *shared_url);
                     } catch (...) {
                       result.error = std::current_exception();
                     }
                   }
                   done(std::move(result.error));
                 });
  };
  workload.connections_opened = [client] { return client->metrics().connections_new; };
  return workload;
}

ThreadWorkload sync_workload(const std::shared_ptr<http::SyncClient>& client, std::string url) {
  ThreadWorkload workload;
  workload.make_worker = [client, url](int) -> std::function<void()> {
    return [client, url] { throw_unless_success(client->get(url), url); };
  };
  workload.connections_opened = [client] { return client->metrics().connections_new; };
  return workload;
}

// One client per run; it lives as long as the workload.
template <class Client>
Workload client_workload(const std::shared_ptr<Client>& client, const std::string& url) {
  Workload workload;
  if constexpr (std::is_same_v<Client, http::SyncClient>) {
    workload.run = sync_workload(client, url);
  } else {
    workload.run = async_workload(client, url);
  }
  workload.peak_in_use = [client] {
    return static_cast<std::size_t>(client->metrics().peak_in_flight);
  };
  return workload;
}

void run_http_bench(HttpBenchArguments& arguments) {
  arguments.bench.backend = "http";
  require_http_url(arguments.bench.url);
  const auto settings = bench_settings();
  if (arguments.bench.pool_size == 0) {
    const auto& async = settings.http_async;
    const std::size_t async_size =
        async.limit_per_host > 0 ? async.limit_per_host : async.pool_limit;
    arguments.bench.pool_size = arguments.sync ? settings.http_sync.pool_maxsize : async_size;
  }
  run_bench_command(
      arguments.bench,
      [&](const BenchOptions& run) { return http_workload(run, settings, arguments.sync); },
      std::string(arguments.sync ? setting::kRequestsPoolMaxsize : setting::kAiohttpLimitPerHost));
}

}  // namespace

Workload http_workload(const BenchOptions& options, const Settings& settings, bool sync) {
  const auto client = client_options(sync, options, settings);
  if (sync) return client_workload(std::make_shared<http::SyncClient>(client), options.url);
  return client_workload(std::make_shared<http::AsyncClient>(client), options.url);
}

void add_bench_http(CLI::App& bench) {
  auto arguments = std::make_shared<HttpBenchArguments>();
  CLI::App* command = bench.add_subcommand(
      "http", "GET one URL: N requests in flight on the async client, or N threads with --sync");
  command->add_option("--url", arguments->bench.url, "http:// or https:// URL to GET")->required();
  add_bench_options(*command, arguments->bench);
  command->add_flag("--sync", arguments->sync,
                    "Use the sync client from N threads instead of N requests in flight");
  command->callback([arguments] { run_http_bench(*arguments); });
}

}  // namespace poolkit::cli
