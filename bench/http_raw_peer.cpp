// The bare libcurl peers of `poolkit bench http` (bench/http.sh), GET of one URL:
// - default: one thread, one multi handle, N easy handles kept in flight, each re-added as soon
//   as it completes (the async client's job without the client);
// - --threads: N threads, each with its own easy handle (and so its own connection) in a
//   curl_easy_perform loop (the sync client's job without a shared, bounded pool).
// Each is the least a libcurl-based client can do per request, so poolkit's distance from it is
// the cost of poolkit itself, and its distance from wrk is libcurl's.
//
// Usage: poolkit_http_raw_peer URL N SECONDS [--threads]
// Prints requests per second (status 2xx only). For an https:// URL, the CA file named by
// CURL_CA_BUNDLE (as the curl tool reads it) is trusted, with no CA directory, so libcurl builds
// its trust store once, as poolkit does.

#include <curl/curl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

std::size_t discard(char*, std::size_t size, std::size_t count, void*) {
  return size * count;
}

void set_ca(CURL* easy) {
  if (const char* ca = std::getenv("CURL_CA_BUNDLE")) {
    curl_easy_setopt(easy, CURLOPT_CAINFO, ca);
    curl_easy_setopt(easy, CURLOPT_CAPATH, nullptr);
  }
}

void add_request(CURLM* multi, CURL* easy, const char* url) {
  curl_easy_setopt(easy, CURLOPT_URL, url);
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  set_ca(easy);
  curl_multi_add_handle(multi, easy);
}

using Clock = std::chrono::steady_clock;

bool succeeded(CURL* easy, CURLcode code) {
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  return code == CURLE_OK && status / 100 == 2;
}

long long run_multi(const char* url, int n, Clock::time_point end) {
  CURLM* multi = curl_multi_init();
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, static_cast<long>(n));
  std::vector<CURL*> handles;
  for (int i = 0; i < n; ++i) {
    handles.push_back(curl_easy_init());
    add_request(multi, handles.back(), url);
  }
  long long ok = 0;
  int running = n;
  while (running > 0) {
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* message = curl_multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      CURL* easy = message->easy_handle;
      if (succeeded(easy, message->data.result)) ++ok;
      curl_multi_remove_handle(multi, easy);
      if (Clock::now() < end) {
        curl_multi_add_handle(multi, easy);
        ++running;
      }
    }
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  for (CURL* easy : handles) curl_easy_cleanup(easy);
  curl_multi_cleanup(multi);
  return ok;
}

long long run_threads(const char* url, int n, Clock::time_point end) {
  std::atomic<long long> ok{0};
  {
    std::vector<std::jthread> threads;
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&] {
        CURL* easy = curl_easy_init();
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        set_ca(easy);
        long long mine = 0;
        while (Clock::now() < end) {
          if (succeeded(easy, curl_easy_perform(easy))) ++mine;
        }
        ok += mine;
        curl_easy_cleanup(easy);
      });
    }
  }
  return ok.load();
}

}  // namespace

int main(int argc, char** argv) {
  const bool threads = argc == 5 && std::string(argv[4]) == "--threads";
  if (argc != 4 && !threads) {
    std::fprintf(stderr, "usage: %s URL N SECONDS [--threads]\n", argv[0]);
    return 2;
  }
  const char* url = argv[1];
  const int n = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  if (n < 1 || seconds <= 0) {
    std::fprintf(stderr, "N must be at least 1 and SECONDS above 0\n");
    return 2;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  const long long ok = threads ? run_threads(url, n, end) : run_multi(url, n, end);
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("%.0f\n", static_cast<double>(ok) / elapsed);
  curl_global_cleanup();
  return 0;
}
