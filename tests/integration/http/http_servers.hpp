#pragma once
// Servers for the HTTP tests: a real nginx (Debian's) on a free loopback port, and a small
// in-process server for the faults nginx can't produce (never answering, scripted 503s,
// closing mid-response, dropping a pooled connection).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "local_servers/servers.hpp"
#include "process.hpp"

namespace poolkit::test {

// One line of nginx's access log: which connection served which request.
struct AccessRecord {
  long connection = 0;
  long connection_requests = 0;
  int status = 0;
  std::string uri;
};

// The shared nginx launcher with what the HTTP tests need: /small.txt (a few bytes),
// /medium.bin (kMediumFileBytes),
// /slow/second.bin and /slow/long.bin (about 1 s and 3 s to send), /status (stub_status, not
// logged), and the connection counts read at the server.
inline constexpr std::size_t kMediumFileBytes = 512 * 1024;

class Nginx {
 public:
  explicit Nginx(int keepalive_timeout_s = 75);
  // Over TLS (https:// URLs), with /session answering nginx's $ssl_session_reused ("r" for a
  // resumed session, "." for a full handshake); /status stays on a plain port of its own.
  explicit Nginx(const local::ServerTls& tls, int keepalive_timeout_s = 75);
  int port() const noexcept { return server_.port(); }
  // With TLS: the same site over HTTP/2 (ALPN "h2") on a port of its own.
  std::string http2_url(const std::string& path) const;
  std::string url(const std::string& path) const { return server_.url(path); }
  std::vector<AccessRecord> access_log() const;
  // nginx writes a log line after it has sent the response: waits (up to 5 s) until the log
  // holds at least `lines`.
  std::vector<AccessRecord> access_log(std::size_t lines) const;
  // From stub_status: open connections, and those reading or writing a request, both without
  // the status request itself.
  struct Connections {
    int active = 0;
    int busy = 0;
  };
  Connections connections() const;
  // Connections nginx has accepted since it started (stub_status), this status request's own
  // included: a TLS handshake that failed counts, though it leaves no access log line.
  long accepted() const;

 private:
  Nginx(local::NginxServer::Options options, int status_port, int http2_port);
  int status_port_ = 0;  // where /status is fetched in plain HTTP
  int http2_port_ = 0;   // with TLS: nginx's `listen ... ssl http2`
  local::NginxServer server_;
};

std::set<long> distinct_connections(const std::vector<AccessRecord>& log);

// One accepted connection of the fault server.
class FaultConnection {
 public:
  explicit FaultConnection(int fd, const std::atomic<bool>& stopping)
      : fd_(fd), stopping_(stopping) {}
  // The next request's head and body, or nullopt once the peer closed (or the server stops).
  std::optional<std::string> read_request();
  // Sends all of `bytes`; false when the peer is gone or the server stops (never blocks past
  // that: a client that stops reading can't hold the server's thread).
  bool write(std::string_view bytes);
  // Makes the close send a reset instead of a FIN.
  void reset();
  // Waits until the server stops or the peer closes, without answering.
  void hold();

 private:
  bool wait_readable();
  int fd_;
  const std::atomic<bool>& stopping_;
  std::string buffer_;
};

// A plain HTTP/1.1 response with Content-Length.
std::string http_response(int status, const std::string& body = "ok",
                          const std::vector<std::string>& extra_headers = {},
                          bool keep_alive = false);

class FaultServer {
 public:
  // handle(server, connection) runs on a thread per accepted connection.
  using Handler = std::function<void(FaultServer&, FaultConnection&)>;
  explicit FaultServer(Handler handle);
  ~FaultServer();
  FaultServer(const FaultServer&) = delete;
  FaultServer& operator=(const FaultServer&) = delete;

  int port() const noexcept { return port_; }
  std::string url(const std::string& path = "/") const;
  int requests() const noexcept { return requests_.load(); }
  // Counts a request; returns its number (from 0).
  int count_request() noexcept { return requests_++; }

  // Answers the n-th request (over all connections) with responses[min(n, last)], then closes
  // the connection.
  static Handler scripted(std::vector<std::string> responses);

 private:
  void accept_loop();
  Handler handle_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace poolkit::test
