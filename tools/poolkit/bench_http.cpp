// `poolkit bench http`: GET one URL with N requests in flight on the async client, or from N
// threads on the sync client (--sync), configured from the AIOHTTP_* / REQUESTS_* settings.

#include <fmt/format.h>

#include <memory>
#include <poolkit/http.hpp>
#include <poolkit/settings.hpp>
#include <poolkit/url.hpp>

#include "bench_runner.hpp"
#include "commands.hpp"

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

// Every request the same way: a pool as large as the concurrency unless --pool-size says
// otherwise, no connection reuse with --no-reuse.
http::ClientOptions client_options(const HttpBenchArguments& arguments, const Settings& settings) {
  auto options = arguments.sync ? http::ClientOptions::from(settings.http_sync)
                                : http::ClientOptions::from(settings.http_async);
  if (arguments.bench.pool_size > 0) {
    options.max_connections_per_host = arguments.bench.pool_size;
    if (!arguments.sync) options.max_connections = arguments.bench.pool_size;
  }
  options.reuse_connections = arguments.bench.reuse;
  return options;
}

void throw_unless_success(const http::Response& response) {
  if (response.status >= 400) {
    throw ServerError(Backend::http, "status " + std::to_string(response.status));
  }
}

BenchReport run_async(const HttpBenchArguments& arguments, const http::ClientOptions& options) {
  http::AsyncClient client(options);
  AsyncWorkload workload;
  const std::string url = arguments.bench.url;
  workload.start = [&client, url](std::function<void(std::exception_ptr)> done) {
    client.send(http::Request::get(url), [done = std::move(done)](http::Result result) {
      if (!result.error && result.response.status >= 400) {
        try {
          throw_unless_success(result.response);
        } catch (...) {
          result.error = std::current_exception();
        }
      }
      done(std::move(result.error));
    });
  };
  workload.connections_opened = [&client] { return client.metrics().connections_new; };
  return run_bench(arguments.bench, workload);
}

BenchReport run_sync(const HttpBenchArguments& arguments, const http::ClientOptions& options) {
  http::SyncClient client(options);
  ThreadWorkload workload;
  const std::string url = arguments.bench.url;
  workload.make_worker = [&client, url](int) {
    return [&client, url] { throw_unless_success(client.get(url)); };
  };
  workload.connections_opened = [&client] { return client.metrics().connections_new; };
  return run_bench(arguments.bench, workload);
}

void run_http_bench(HttpBenchArguments& arguments) {
  arguments.bench.backend = "http";
  require_http_url(arguments.bench.url);
  const auto settings = bench_settings();
  const auto options = client_options(arguments, settings);
  if (arguments.bench.pool_size == 0) {
    arguments.bench.pool_size = options.max_connections_per_host;
  }
  const BenchReport report =
      arguments.sync ? run_sync(arguments, options) : run_async(arguments, options);
  print_bench_report(arguments.bench, report);
  if (report.ops == 0) throw CLI::RuntimeError(kExitFailure);
}

}  // namespace

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
