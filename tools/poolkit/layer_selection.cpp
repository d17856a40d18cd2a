// `--only LAYERS`, shared by `poolkit check` and `poolkit demo`.

#include <fmt/format.h>

#include <algorithm>

#include "commands.hpp"

namespace poolkit::cli {

std::vector<std::string> selected_layers(std::string_view command,
                                         const std::vector<std::string>& given) {
  std::vector<std::string> layers;
  for (const auto& item : given) {
    std::size_t start = 0;
    while (start <= item.size()) {
      const auto end = std::min(item.find(',', start), item.size());
      const std::string layer = item.substr(start, end - start);
      if (!layer.empty()) {
        if (std::find(kLayers.begin(), kLayers.end(), layer) == kLayers.end()) {
          fmt::print(stderr,
                     "poolkit {}: --only {:?}: unknown layer; expected a comma list of redis, "
                     "mongo, http, http_sync\n",
                     command, layer);
          throw CLI::RuntimeError(kExitInvalid);
        }
        layers.push_back(layer);
      }
      start = end + 1;
    }
  }
  return layers;
}

}  // namespace poolkit::cli
