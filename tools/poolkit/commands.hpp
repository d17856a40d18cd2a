#pragma once
// The poolkit subcommands. Each lives in its own file and registers itself on the app; a new
// command (check, bench, demo) adds one file and one line in main.cpp.
//
// A command reports its own output. When it must end the process with a failure status it throws
// CLI::RuntimeError(status), which main turns into the exit status without printing anything.

#include <CLI/CLI.hpp>
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace poolkit::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // something unexpected went wrong
inline constexpr int kExitInvalid = 2;  // invalid configuration or command line

// The layers, in report order, as `--only` names them (check, demo).

// The layers named by `--only` values (each a comma list), in the order given; empty when none
// is given. An unknown name is a command-line error: it is named on stderr, exit status 2.
// "redis, mongo, http, http_sync": the backend layers' names, for messages.
std::string backend_layer_names();
std::vector<std::string> selected_layers(std::string_view command,
                                         const std::vector<std::string>& given);

// `poolkit config`: every setting with its value and source, then warnings and errors.
void add_config_command(CLI::App& app);

// `poolkit check`: health, server versions, pool state and saturation signals of each backend.
void add_check_command(CLI::App& app);

// `poolkit demo`: local servers, pooled vs re-created, pool-size sweeps, text and HTML report.
void add_demo_command(CLI::App& app);

// `poolkit bench <layer>`: load against one backend (bench_command.cpp), one file per layer.
void add_bench_command(CLI::App& app);
void add_bench_redis(CLI::App& bench);
void add_bench_http(CLI::App& bench);
void add_bench_mongo(CLI::App& bench);

}  // namespace poolkit::cli
