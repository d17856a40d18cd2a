#include "poolkit/health.hpp"

#include <nlohmann/json.hpp>

namespace poolkit {

bool Health::ok() const noexcept {
  for (const auto& layer : layers)
    if (layer.configured && !layer.ok) return false;
  return true;
}

std::string Health::to_json() const {
  nlohmann::ordered_json out{{"ok", ok()}, {"layers", nlohmann::ordered_json::array()}};
  for (const auto& l : layers) {
    nlohmann::ordered_json details = nlohmann::ordered_json::object();
    for (const auto& [key, value] : l.details) details[key] = value;
    nlohmann::ordered_json entry{{"layer", l.layer},
                                 {"configured", l.configured},
                                 {"ok", l.ok},
                                 {"latency_ms", static_cast<double>(l.latency.count()) / 1000.0}};
    if (!l.error.empty()) entry["error"] = l.error;
    entry["details"] = details;
    out["layers"].push_back(entry);
  }
  return out.dump();
}

}  // namespace poolkit
