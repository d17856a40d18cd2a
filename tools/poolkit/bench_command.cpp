// `poolkit bench`: one subcommand per layer, each in its own bench_<layer>.cpp.

#include "commands.hpp"

namespace poolkit::cli {

void add_bench_command(CLI::App& app) {
  CLI::App* bench = app.add_subcommand("bench", "Measure one backend through poolkit's pool");
  bench->require_subcommand(1);
  add_bench_redis(*bench);
  add_bench_http(*bench);
  add_bench_mongo(*bench);
}

}  // namespace poolkit::cli
