// `--only LAYERS`, shared by `poolkit check` and `poolkit demo`.

#include <fmt/format.h>

#include <algorithm>
#include <poolkit/settings.hpp>

#include "commands.hpp"

namespace poolkit::cli {

std::string backend_layer_names() {
  std::string names;
  for (const Layer layer : kBackendLayers) {
    if (!names.empty()) names += ", ";
    names += layer_name(layer);
  }
  return names;
}

std::vector<std::string> selected_layers(std::string_view command,
                                         const std::vector<std::string>& given) {
  std::vector<std::string> layers;
  for (const auto& item : given) {
    std::size_t start = 0;
    while (start <= item.size()) {
      const auto end = std::min(item.find(',', start), item.size());
      const std::string layer = item.substr(start, end - start);
      if (!layer.empty()) {
        const auto known = layer_from_name(layer);
        if (!known || *known == Layer::general) {
          fmt::print(stderr,
                     "poolkit {}: --only {:?}: unknown layer; expected a comma list of {}\n",
                     command, layer, backend_layer_names());
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
