#include "local_servers/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

namespace poolkit::local {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const noexcept { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

template <class Try>
bool poll_until(std::chrono::milliseconds timeout, Try attempt) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (attempt()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return attempt();
}

// The inherited environment with `overrides` ("NAME=value") added or replacing entries.
std::vector<std::string> child_environment(const std::vector<std::string>& overrides) {
  const auto name_of = [](const std::string& entry) { return entry.substr(0, entry.find('=')); };
  std::vector<std::string> result;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string inherited(*entry);
    const bool replaced = std::any_of(overrides.begin(), overrides.end(), [&](const auto& o) {
      return name_of(o) == name_of(inherited);
    });
    if (!replaced) result.push_back(inherited);
  }
  result.insert(result.end(), overrides.begin(), overrides.end());
  return result;
}

std::vector<char*> null_terminated(std::vector<std::string>& strings) {
  std::vector<char*> raw;
  for (auto& text : strings) raw.push_back(text.data());
  raw.push_back(nullptr);
  return raw;
}

bool can_bind(int port) {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in address = loopback(port);
  return fd.get() >= 0 &&
         ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

int kernel_chosen_port() {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  if (fd.get() < 0) throw std::runtime_error("free_loopback_port: socket() failed");
  sockaddr_in address = loopback(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw std::runtime_error("free_loopback_port: bind() failed");
  socklen_t length = sizeof address;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
  return ntohs(address.sin_port);
}

int first_ephemeral_port() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  int first = 0;
  range >> first;
  return first;
}

}  // namespace

int free_loopback_port() {
  constexpr int kLowest = 10000;  // above the registered ports most services use
  const int ceiling = first_ephemeral_port();
  if (ceiling - kLowest < 1000) return kernel_chosen_port();
  std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> pick(kLowest, ceiling - 1);
  for (int i = 0; i < 200; ++i) {
    const int port = pick(random);
    if (can_bind(port)) return port;
  }
  return kernel_chosen_port();
}

bool wait_for_port(int port, std::chrono::milliseconds timeout) {
  return poll_until(timeout, [port] {
    Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in address = loopback(port);
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  });
}

bool wait_for_unix_socket(const std::filesystem::path& path, std::chrono::milliseconds timeout) {
  return poll_until(timeout, [&path] {
    Fd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  });
}

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("TempDir: mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string log_tail(const std::filesystem::path& log, std::size_t count) {
  std::ifstream in(log);
  std::vector<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > count) last.erase(last.begin());
  }
  std::string text;
  for (const auto& line : last) text += "\n  " + line;
  return text;
}

bool launch_until_listening(const std::function<Launched(int attempt)>& launch, int attempts,
                            std::chrono::milliseconds timeout) {
  for (int attempt = 1; attempt <= attempts; ++attempt) {
    const Launched launched = launch(attempt);
    bool exited = false;
    const bool listening = poll_until(timeout, [&] {
      exited = !launched.child.running();
      return exited || wait_for_port(launched.port, std::chrono::milliseconds(0));
    });
    if (listening && !exited) return true;
    if (!exited) return false;
  }
  return false;
}

std::filesystem::path find_program(const std::string& name) {
  std::string search = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  search += ":/usr/sbin:/sbin:/usr/local/bin:/usr/local/go/bin";
  std::size_t start = 0;
  while (start <= search.size()) {
    const std::size_t end = std::min(search.find(':', start), search.size());
    const std::filesystem::path candidate =
        std::filesystem::path(search.substr(start, end - start)) / name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return {};
}

ChildProcess::ChildProcess(std::vector<std::string> argv, const std::filesystem::path& log_file,
                           const std::vector<std::string>& environment) {
  if (argv.empty()) throw std::invalid_argument("ChildProcess: empty argv");
  const std::filesystem::path program = argv[0].find('/') == std::string::npos
                                            ? find_program(argv[0])
                                            : std::filesystem::path(argv[0]);
  if (program.empty())
    throw std::runtime_error("ChildProcess: program not found in PATH: " + argv[0]);
  // Built before fork(): the child may only make async-signal-safe calls.
  const std::vector<char*> raw = null_terminated(argv);
  std::vector<std::string> env = child_environment(environment);
  const std::vector<char*> raw_env = null_terminated(env);

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("ChildProcess: fork failed");
  if (pid_ == 0) {
    ::setpgid(0, 0);
    if (!log_file.empty()) {
      const int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        ::close(fd);
      }
    }
    ::execve(program.c_str(), raw.data(), raw_env.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);  // also from the parent, so signal() works before the child runs
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) kill_now();
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) kill_now();
}

int ChildProcess::reap(bool block) {
  if (pid_ <= 0) return 1;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  if (done == pid_) {
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    ::kill(-pid_, SIGKILL);  // anything the child left in its group
    pid_ = -1;
    return 1;
  }
  return done < 0 ? (pid_ = -1, 1) : 0;
}

bool ChildProcess::running() {
  return pid_ > 0 && reap(false) == 0;
}

void ChildProcess::signal(int signo) {
  if (pid_ > 0) ::kill(-pid_, signo);
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return status_;
  signal(SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (reap(false) != 0) return status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill_now();
  return status_;
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pid_ <= 0 || reap(false) != 0) return status_;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void ChildProcess::kill_now() {
  if (pid_ <= 0) return;
  signal(SIGKILL);
  reap(true);
}

}  // namespace poolkit::local
