#include "hostile_server.hpp"

#include <fstream>
#include <stdexcept>
#include <thread>

namespace poolkit::test::hostile {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunkBytes = 16 * 1024;

// Reads the request and counts it; false when the client went away first.
bool take_request(FaultServer& server, FaultConnection& connection) {
  if (!connection.read_request()) return false;
  server.count_request();
  return true;
}

// Writes `piece` again and again until the client goes away, or a bound is reached.
void repeat(FaultConnection& connection, const std::string& piece) {
  const auto give_up = Clock::now() + kStreamTime;
  for (std::size_t sent = 0; sent < kStreamCap && Clock::now() < give_up; sent += piece.size()) {
    if (!connection.write(piece)) return;
  }
}

std::string chunk_of(std::size_t bytes, char fill) {
  std::string chunk;
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", bytes);
  chunk += size;
  chunk.append(bytes, fill);
  return chunk + "\r\n";
}

}  // namespace

FaultServer::Handler garbage() {
  return [](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    std::string noise;
    std::uint32_t state = 12345;  // deterministic, so a failure reproduces
    for (int i = 0; i < 4096; ++i) {
      state = state * 1103515245u + 12345u;
      noise.push_back(static_cast<char>(state >> 24));
    }
    noise[0] = '\x16';  // never "HTTP/"
    connection.write(noise);
  };
}

FaultServer::Handler endless_body(std::uint64_t announced) {
  return [announced](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    if (!connection.write("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(announced) +
                          "\r\n\r\n")) {
      return;
    }
    repeat(connection, std::string(kChunkBytes, 'b'));
  };
}

FaultServer::Handler endless_chunked_body() {
  return [](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    if (!connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return;
    repeat(connection, chunk_of(kChunkBytes, 'c'));
  };
}

FaultServer::Handler huge_header_line(std::size_t bytes) {
  return [bytes](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    connection.write("HTTP/1.1 200 OK\r\nX-Huge: " + std::string(bytes, 'h') +
                     "\r\nContent-Length: 2\r\n\r\nok");
  };
}

FaultServer::Handler many_header_lines(std::size_t lines) {
  return [lines](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    if (!connection.write("HTTP/1.1 200 OK\r\n")) return;
    const std::string value(90, 'v');
    for (std::size_t i = 0; i < lines; ++i) {
      if (!connection.write("X-Many-" + std::to_string(i) + ": " + value + "\r\n")) return;
    }
    connection.write("Content-Length: 2\r\n\r\nok");
  };
}

FaultServer::Handler endless_status_line() {
  return [](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    if (!connection.write("HTTP/1.1 200 OK")) return;
    repeat(connection, std::string(kChunkBytes, 's'));
  };
}

FaultServer::Handler trickle(std::size_t body_bytes, std::chrono::milliseconds pause) {
  return [body_bytes, pause](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    const std::string response = http_response(200, std::string(body_bytes, 't'));
    const auto give_up = Clock::now() + kStreamTime;
    for (char byte : response) {
      if (Clock::now() >= give_up || !connection.write(std::string(1, byte))) return;
      std::this_thread::sleep_for(pause);
    }
  };
}

FaultServer::Handler body_of(std::size_t body_bytes, bool chunked) {
  return [body_bytes, chunked](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    if (!chunked) {
      connection.write(http_response(200, std::string(body_bytes, 'o')));
      return;
    }
    if (!connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")) return;
    for (std::size_t left = body_bytes; left > 0;) {
      const std::size_t piece = std::min(left, kChunkBytes);
      if (!connection.write(chunk_of(piece, 'o'))) return;
      left -= piece;
    }
    connection.write("0\r\n\r\n");
  };
}

FaultServer::Handler correct_then_close() {
  return [](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    connection.write(http_response(200, "ok", {}, true));
  };
}

FaultServer::Handler silence() {
  return [](FaultServer& server, FaultConnection& connection) {
    if (!take_request(server, connection)) return;
    connection.hold();
  };
}

FaultServer::Handler unavailable_with_retry_after(const std::string& value) {
  return FaultServer::scripted({http_response(503, "busy", {"Retry-After: " + value})});
}

std::size_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string label;
  while (status >> label) {
    if (label == "VmRSS:") {
      std::size_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 16, '\n');
  }
  throw std::runtime_error("no VmRSS in /proc/self/status");
}

}  // namespace poolkit::test::hostile
