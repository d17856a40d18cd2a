// poolkit: the command-line tool. Each subcommand lives in its own file (see commands.hpp).

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "bench_workloads.hpp"
#include "commands.hpp"

namespace {

int run(int argc, char** argv) {
  // Every command may talk to a server without endSessions (FerretDB): a healthy run prints
  // nothing on stderr. A process-wide handler is the application's to set, so the CLI sets it
  // here; the library leaves libmongoc's logging to the service.
  poolkit::cli::quiet_mongoc_end_sessions_warnings();
  CLI::App app{"poolkit: environment-configured, bounded and observable connection pools"};
  app.require_subcommand(1);
  poolkit::cli::add_config_command(app);
  poolkit::cli::add_check_command(app);
  poolkit::cli::add_bench_command(app);
  poolkit::cli::add_demo_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& failure) {
    return failure.get_exit_code();  // a command's own failure, already reported
  } catch (const CLI::ParseError& error) {
    // --help and --version end up here as well, and succeed.
    return app.exit(error) == 0 ? poolkit::cli::kExitOk : poolkit::cli::kExitInvalid;
  }
  return poolkit::cli::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& error) {
    fmt::print(stderr, "poolkit: {}\n", error.what());
  } catch (...) {
    fmt::print(stderr, "poolkit: unknown error\n");
  }
  return poolkit::cli::kExitFailure;
}
