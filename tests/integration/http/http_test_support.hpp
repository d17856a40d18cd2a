#pragma once
// Shared helpers of the HTTP integration tests.

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "http_servers.hpp"
#include "poolkit/http.hpp"

namespace poolkit::test {

using namespace std::chrono_literals;
using Seconds = std::chrono::duration<double>;

// Options with no retries, no circuit breaker and a 10 s timeout; tests switch on what they
// exercise.
inline http::Options plain_options() {
  http::Options options;
  options.circuit_breaker.reset();
  options.timeout = 10s;
  options.retry = RetryPolicy::resilience(1, Backoff{}, 30s);
  return options;
}

inline Seconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::steady_clock::now() - start;
}

// The error a future ends with, as the given type; fails the test if it ends otherwise.
template <class ErrorType>
bool ends_with_error(std::future<http::Response>& future) {
  try {
    future.get();
  } catch (const ErrorType&) {
    return true;
  } catch (const std::exception& other) {
    ADD_FAILURE() << "unexpected error: " << other.what();
    return false;
  }
  ADD_FAILURE() << "expected an error, got a response";
  return false;
}

}  // namespace poolkit::test
