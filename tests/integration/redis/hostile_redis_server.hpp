#pragma once
// A scriptable fake Redis on 127.0.0.1 for replies a real server never sends: garbage, huge
// length headers, endless streams, trickles, lines without an end, deep nesting, a reply then a
// close, silence. It answers the client's handshake (AUTH, SELECT, CLIENT SETNAME, ...) and
// every other command normally, and misbehaves only on the command under test.
//
// Bounded: one thread per connection (at most kMaxConnections), every wait is a poll() of at
// most 50 ms that checks for shutdown, a stream stops after kStreamBound bytes or when the client
// closes, and the destructor stops and joins everything.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace poolkit::test {

// What the server sends for the command under test.
struct HostileReply {
  enum class Kind { raw, endless, trickle, raw_then_close, silence };

  // `bytes` as they are, e.g. "HTTP/1.1 400 Bad Request\r\n".
  static HostileReply raw(std::string bytes) { return {Kind::raw, std::move(bytes), {}, {}}; }
  // `header`, then `pattern` again and again until the client closes (or kStreamBound).
  static HostileReply endless(std::string header, std::string pattern) {
    return {Kind::endless, std::move(header), std::move(pattern), {}};
  }
  // `bytes` one at a time, `interval` apart.
  static HostileReply trickle(std::string bytes, std::chrono::milliseconds interval) {
    return {Kind::trickle, std::move(bytes), {}, interval};
  }
  // `bytes`, then the server closes the connection.
  static HostileReply raw_then_close(std::string bytes) {
    return {Kind::raw_then_close, std::move(bytes), {}, {}};
  }
  // Nothing: the command is read and never answered.
  static HostileReply silence() { return {Kind::silence, {}, {}, {}}; }

  Kind kind;
  std::string bytes;
  std::string pattern;
  std::chrono::milliseconds interval;
};

class HostileRedisServer {
 public:
  static constexpr std::size_t kMaxConnections = 16;
  static constexpr std::size_t kStreamBound = std::size_t{1} << 30;

  // Misbehaves on every command named `command` (case-insensitive), the first `times` of them
  // (0: every one); answers the others as Redis would.
  HostileRedisServer(std::string command, HostileReply reply, int times = 0);
  ~HostileRedisServer();
  HostileRedisServer(const HostileRedisServer&) = delete;
  HostileRedisServer& operator=(const HostileRedisServer&) = delete;

  int port() const noexcept { return port_; }
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(port_) + "/0"; }
  // Commands named `command` received so far.
  int target_commands() const noexcept { return target_commands_.load(); }
  int connections() const noexcept { return connections_.load(); }

 private:
  void accept_loop();
  void serve(int fd);
  // Returns false when the connection is to be closed.
  bool answer(int fd, const std::vector<std::string>& command);
  bool misbehave(int fd);
  bool send_all(int fd, std::string_view bytes);

  std::string command_;
  HostileReply reply_;
  int times_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> target_commands_{0};
  std::atomic<int> connections_{0};
  std::mutex threads_mutex_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// The test process's resident memory (VmRSS of /proc/self/status), in bytes.
std::size_t resident_bytes();

}  // namespace poolkit::test
