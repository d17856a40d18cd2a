#pragma once
// The optional endpoint for POOLKIT_METRICS_ADDR: GET /metrics (Prometheus text) and
// GET /healthz (200 when every configured layer is healthy, 503 otherwise, JSON body). One
// thread, one short request at a time, Connection: close — enough for a scraper and a probe.

#include <functional>
#include <string>
#include <thread>

namespace poolkit {

class MetricsServer {
 public:
  struct Handlers {
    std::function<std::string()> metrics;                  // Prometheus text
    std::function<std::pair<bool, std::string>()> health;  // healthy?, JSON body
  };

  // Listens on "host:port" (host 127.0.0.1, ::1, localhost, 0.0.0.0 or [v6]; port 0 picks one).
  // Throws ConfigError naming the address when it cannot listen.
  MetricsServer(const std::string& address, Handlers handlers);
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;
  ~MetricsServer();

  int port() const noexcept { return port_; }

 private:
  void serve();
  void answer(int client);

  Handlers handlers_;
  int listener_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::thread thread_;
};

}  // namespace poolkit
