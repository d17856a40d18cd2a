#pragma once
// The health of each backend layer, as `Pools::health()` and `poolkit check` report it: plain
// structs a caller can log, serve or compare, and their JSON form.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace poolkit {

struct LayerHealth {
  std::string layer;  // "redis", "mongo", "http", "http_sync"
  bool configured = false;
  bool ok = false;
  std::chrono::microseconds latency{0};
  std::string error{};  // why it failed, when !ok (never a secret)
  // Server version, pool state, saturation figures... in the order they are best read.
  std::vector<std::pair<std::string, std::string>> details{};
};

struct Health {
  std::vector<LayerHealth> layers;
  // Every configured layer is ok (layers that are not configured do not count).
  bool ok() const noexcept;
  std::string to_json() const;
};

struct HealthOptions {
  // Layers to check ("redis", "mongo", "http", "http_sync"); empty: all.
  std::vector<std::string> only{};
  // HTTP has no configured backend: when set, a GET of this URL is the HTTP layers' probe.
  std::string http_probe_url{};
  std::chrono::milliseconds timeout{5000};
};

}  // namespace poolkit
