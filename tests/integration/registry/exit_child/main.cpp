// A process that uses poolkit::pools() from several threads and returns from main with every
// pool open, as a service does. It also checks the order of the shutdown that follows: the
// executable's definitions of these libmongoc functions win over the shared library's, so every
// client poolkit creates and destroys is counted, and mongoc_cleanup() with a client still
// alive (or a client created after it) is reported. Exit status 0: all well; 3: wrong order.
//
// Environment: REDIS_URL, MONGODB_URL, EXIT_CHILD_HTTP_URL (a URL answering GET and POST).

#include <dlfcn.h>
#include <mongoc/mongoc.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <poolkit/poolkit.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

struct MongocClients {
  std::mutex mutex;
  std::set<const mongoc_client_t*> alive;
  bool cleaned_up = false;
};
// Never destroyed: it must outlive every static destructor that reaches libmongoc.
MongocClients& clients = *new MongocClients;

template <class Fn>
Fn* next_definition(const char* name) {
  return reinterpret_cast<Fn*>(::dlsym(RTLD_NEXT, name));
}

[[noreturn]] void wrong_order(const char* what) {
  const std::string line = std::string("exit order: ") + what + "\n";
  [[maybe_unused]] const auto written = ::write(STDERR_FILENO, line.data(), line.size());
  ::_exit(3);
}

}  // namespace

// The lock is never held across a libmongoc call, which may come back through these wrappers.
extern "C" mongoc_client_t* mongoc_client_new_from_uri_with_error(const mongoc_uri_t* uri,
                                                                  bson_error_t* error) {
  static auto* const real = next_definition<mongoc_client_t*(const mongoc_uri_t*, bson_error_t*)>(
      "mongoc_client_new_from_uri_with_error");
  mongoc_client_t* client = real(uri, error);
  const std::lock_guard lock(clients.mutex);
  if (clients.cleaned_up) wrong_order("a mongoc client was created after mongoc_cleanup()");
  if (client != nullptr) clients.alive.insert(client);
  return client;
}

extern "C" void mongoc_client_destroy(mongoc_client_t* client) {
  static auto* const real = next_definition<void(mongoc_client_t*)>("mongoc_client_destroy");
  {
    const std::lock_guard lock(clients.mutex);
    if (clients.alive.erase(client) != 0 && clients.cleaned_up)
      wrong_order("a mongoc client was destroyed after mongoc_cleanup()");
  }
  real(client);
}

extern "C" void mongoc_cleanup() {
  static auto* const real = next_definition<void()>("mongoc_cleanup");
  {
    const std::lock_guard lock(clients.mutex);
    if (!clients.alive.empty()) wrong_order("mongoc_cleanup() ran with mongoc clients alive");
    clients.cleaned_up = true;
  }
  real();
}

int main() {
  const char* http_url = std::getenv("EXIT_CHILD_HTTP_URL");
  if (http_url == nullptr) return 2;
  std::vector<std::jthread> users;
  for (int t = 0; t < 4; ++t)
    users.emplace_back([&, t] {
      auto& pools = poolkit::pools();
      const std::string key = "exit:" + std::to_string(t);
      pools.redis().set(key, "1");
      pools.redis().get(key);
      pools.mongo().run_command_json("admin", R"({"ping": 1})");
      pools.http_sync().get(http_url);
      pools.http().send(poolkit::http::Request::get(http_url)).get();
    });
  users.clear();
  return 0;  // every pool still open: poolkit::pools() closes them during static destruction
}
