// `poolkit bench redis`: placeholder until the redis layer lands.

#include "commands.hpp"

namespace poolkit::cli {

void add_bench_redis(CLI::App& bench) {
  CLI::App* command = bench.add_subcommand("redis", "Not built yet: arrives with the redis layer");
  command->callback([] { throw CLI::RuntimeError(kExitFailure); });
}

}  // namespace poolkit::cli
