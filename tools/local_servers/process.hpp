#pragma once
// Child processes (local servers started by the tests and the demo), free loopback ports and
// scratch folders. Everything here talks to loopback only.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace poolkit::local {

// A port nobody listens on right now, on 127.0.0.1. It is chosen below the kernel's ephemeral
// range (net.ipv4.ip_local_port_range), so no outgoing connection of any test can take it
// before the server binds it, or while a server is down for a restart.
int free_loopback_port();

// True once something accepts TCP connections on 127.0.0.1:port, false after the timeout.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

// True once the unix socket at path accepts connections, false after the timeout.
bool wait_for_unix_socket(const std::filesystem::path& path, std::chrono::milliseconds timeout);

// A folder under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "poolkit-test");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

// A child process in its own process group. Destruction kills the group (SIGKILL) and reaps it,
// so a failing test never leaves a server behind.
class ChildProcess {
 public:
  // argv[0] is looked up in PATH. stdout and stderr go to log_file (appended) when given. The
  // child inherits this process's environment, with each "NAME=value" of `environment` added
  // or replacing the inherited value.
  explicit ChildProcess(std::vector<std::string> argv, const std::filesystem::path& log_file = {},
                        const std::vector<std::string>& environment = {});
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  pid_t pid() const noexcept { return pid_; }
  bool running();
  // Sends the signal to the whole process group.
  void signal(int signo);
  // SIGTERM, then SIGKILL after the grace period; returns the exit status (or -signal).
  int stop(std::chrono::milliseconds grace = std::chrono::milliseconds(3000));
  // SIGKILL now and reap: a crash, as far as the clients can tell.
  void kill_now();
  // Waits for the child to exit on its own: its exit status (or -signal), or nullopt if it is
  // still running after the timeout (it is left running).
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  int reap(bool block);
  pid_t pid_ = -1;
  int status_ = 0;
};

// The whole of a file (a server's or a child's log), empty when it cannot be read.
std::string read_text(const std::filesystem::path& path);

// The last `count` lines of a log file, each on its own indented line: for start-up errors.
std::string log_tail(const std::filesystem::path& log, std::size_t count = 5);

// What a launch attempt started: the child and the port it must come to listen on.
struct Launched {
  ChildProcess& child;
  int port;
};

// Calls launch(attempt) until the child it starts accepts connections on its port. A child that
// exits before that most often lost its port to another test's server between
// free_loopback_port() and its bind(): launch is then called again with the next attempt number
// (it should choose fresh ports when it may), up to `attempts` times. False when every attempt
// exited, or on the first one that neither listens nor exits within `timeout`.
bool launch_until_listening(const std::function<Launched(int attempt)>& launch, int attempts,
                            std::chrono::milliseconds timeout);

// The absolute path of a program in PATH (or in /usr/sbin, /usr/local/bin), or empty.
std::filesystem::path find_program(const std::string& name);

}  // namespace poolkit::local
