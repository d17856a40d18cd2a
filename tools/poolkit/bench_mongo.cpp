// `poolkit bench mongo`: placeholder until the mongo layer lands.

#include "commands.hpp"

namespace poolkit::cli {

void add_bench_mongo(CLI::App& bench) {
  CLI::App* command = bench.add_subcommand("mongo", "Not built yet: arrives with the mongo layer");
  command->callback([] { throw CLI::RuntimeError(kExitFailure); });
}

}  // namespace poolkit::cli
