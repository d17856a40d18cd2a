#pragma once
// Everything a pool can be told, with the defaults a service gets when it says nothing.

#include <chrono>
#include <cstddef>
#include <string>

#include "poolkit/error.hpp"

namespace poolkit {

// What Pool::clear() does besides making every current connection stale (closed when idle or
// when returned, replaced on demand).
enum class ClearMode {
  // The pool stays ready: waiters keep waiting and are served by new connections.
  keep_ready,
  // CMAP's clear after a network error: waiters fail with PoolClearedError and check-outs are
  // refused until ready().
  pause,
  // As `pause`, and the pool_cleared event says in-use connections are interrupted (CMAP's
  // interruptInUseConnections, after a timeout that may have left them unusable).
  pause_and_interrupt_in_use,
};

struct PoolOptions {
  // Names the pool in events, stats and errors ("redis", "mongo"...).
  std::string name = "pool";
  // Where the connections go, already redacted: it appears in events and error messages.
  std::string address = "unknown";
  Backend backend = Backend::core;
  // The setting a user changes to resize this pool; named in the timeout error.
  std::string size_setting = "max_size";
  // The setting that keeps connections warm; named when a timeout came from slow connects.
  std::string min_size_setting = "min_size";

  // Most connections at once: in use + idle + being opened.
  std::size_t max_size = 100;
  // Connections kept open and warm, opened by the background task while the pool is ready.
  std::size_t min_size = 0;
  // Most connections being opened at once, so a burst cannot stampede the server.
  std::size_t max_connecting = 2;

  // Longest a caller waits for a connection before PoolTimeoutError.
  std::chrono::milliseconds wait_queue_timeout{5000};
  // Deadline handed to the connector for opening one connection.
  std::chrono::milliseconds connect_timeout{10000};
  // An idle connection unused for longer is closed and never handed out; 0 = never.
  std::chrono::milliseconds max_idle_time{0};
  // A connection older than this (minus jitter) is closed instead of reused; 0 = never.
  std::chrono::milliseconds max_lifetime{0};
  // Fraction of max_lifetime taken off at random per connection, so they don't expire together.
  double max_lifetime_jitter = 0.1;
  // A connection idle longer than this is checked by the connector before reuse; 0 = never.
  std::chrono::milliseconds health_check_interval{0};
  // A lease held longer than this is reported once as leaked; 0 = off.
  std::chrono::milliseconds leak_threshold{0};
  // Period of the maintenance task (idle reaping, warm minimum, leaks); negative = never runs.
  std::chrono::milliseconds background_interval{1000};

  // true (CMAP): every caller queues behind the callers already waiting, so nobody is
  // overtaken. false: a caller that finds a connection idle at that instant takes it even while
  // others wait (waiters are still served oldest first among themselves). With many more
  // threads than cores this avoids a convoy where every check-out costs a context switch;
  // see docs/benchmarks.md for the figures.
  bool strict_fifo = true;

  // CMAP pools start paused until ready(); a standalone pool usually starts ready.
  bool start_paused = false;
};

}  // namespace poolkit
