// `poolkit bench http`: placeholder until the http layer lands.

#include "commands.hpp"

namespace poolkit::cli {

void add_bench_http(CLI::App& bench) {
  CLI::App* command = bench.add_subcommand("http", "Not built yet: arrives with the http layer");
  command->callback([] { throw CLI::RuntimeError(kExitFailure); });
}

}  // namespace poolkit::cli
