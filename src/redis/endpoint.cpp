#include "endpoint.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "../core/settings_detail.hpp"
#include "poolkit/error.hpp"
#include "poolkit/setting_names.hpp"

namespace poolkit::redis::detail {
namespace {

constexpr int kDefaultPort = 6379;

// CLIENT SETNAME refuses spaces and newlines, so anything outside printable ASCII becomes '-'.
std::string as_client_name(std::string_view name) {
  std::string result(name);
  for (char& c : result) {
    if (c <= ' ' || c > '~') c = '-';
  }
  return result.empty() ? std::string("poolkit") : result;
}

std::string process_name() {
  std::ifstream comm("/proc/self/comm");
  std::string name;
  std::getline(comm, name);
  return as_client_name(name);
}

timeval to_timeval(std::chrono::milliseconds duration) {
  const auto ms = std::max<std::int64_t>(duration.count(), 1);
  return timeval{.tv_sec = static_cast<time_t>(ms / 1000),
                 .tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000)};
}

std::chrono::milliseconds until(Deadline deadline, std::chrono::milliseconds cap) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::clamp(left, std::chrono::milliseconds(1), cap);
}

std::unique_ptr<redisContext, ContextDeleter> connect_socket(const Endpoint& endpoint,
                                                             Deadline deadline) {
  const timeval timeout = to_timeval(until(deadline, endpoint.connect_timeout));
  std::unique_ptr<redisContext, ContextDeleter> context(
      endpoint.is_unix() ? redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), timeout)
                         : redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, timeout));
  if (!context) throw std::bad_alloc();
  if (context->err != 0) {
    const std::string reason = context->errstr;
    const bool timed_out = reason.find("timed out") != std::string::npos;
    const std::string message = fmt::format(
        "could not connect to Redis at {}: {}; check that the server runs there and {}{}",
        endpoint.address, reason, setting::kRedisUrl,
        timed_out ? fmt::format(" (or raise {})", setting::kRedisConnectTimeout) : "");
    if (timed_out) throw TimeoutError(Backend::redis, message, Sent::no);
    throw ConnectError(Backend::redis, message);
  }
  if (redisSetTimeout(context.get(), to_timeval(endpoint.socket_timeout)) != REDIS_OK ||
      (!endpoint.is_unix() && redisEnableKeepAlive(context.get()) != REDIS_OK)) {
    throw ConnectError(Backend::redis, fmt::format("could not set up the socket to Redis at {}: {}",
                                                   endpoint.address, context->errstr));
  }
  return context;
}

void start_tls(Connection& connection, const Endpoint& endpoint, Deadline deadline) {
  auto stream = std::make_unique<TlsStream>(endpoint.tls, connection.native()->fd, endpoint.host);
  stream->handshake(deadline, host_and_port(endpoint.host, endpoint.port),
                    endpoint.connect_timeout);
  ConnectionAccess::use_tls(connection, std::move(stream));
}

std::string url_option_source(std::string_view option) {
  return fmt::format("{} in {}", option, setting::kRedisUrl);
}

void handshake(Connection& connection, const Endpoint& endpoint) {
  try {
    if (endpoint.password && !endpoint.username.empty()) {
      connection.command("AUTH", endpoint.username, *endpoint.password);
    } else if (endpoint.password) {
      connection.command("AUTH", *endpoint.password);
    }
  } catch (const ServerError& error) {
    throw ServerError(Backend::redis,
                      fmt::format("Redis at {} refused the credentials: {}; check the user and "
                                  "password in {}",
                                  endpoint.address, error.what(), setting::kRedisUrl));
  }
  if (endpoint.database != 0) connection.command("SELECT", endpoint.database);
  connection.command("CLIENT", "SETNAME", endpoint.client_name);
}

}  // namespace

Endpoint make_endpoint(const RedisSettings& settings, bool resume_tls_sessions) {
  if (!settings.url) {
    throw ConfigError(fmt::format(
        "{} is not set, so the Redis layer is disabled: set it, e.g. redis://127.0.0.1:6379/0",
        setting::kRedisUrl));
  }
  const Url& url = *settings.url;
  Endpoint endpoint;
  endpoint.address = url.redacted();
  // Settings validation judged the URL already; settings built in code are judged here.
  if (const std::string problem = poolkit::detail::redis_url_problem(url); !problem.empty()) {
    throw ConfigError(
        fmt::format("{} ({}): {}", setting::kRedisUrl, shorten_value(endpoint.address), problem));
  }
  // One client talks to one server: a topology mode, or several hosts, need a topology client.
  if (settings.mode != RedisMode::standalone) {
    throw ConfigError(fmt::format(
        "{} is {}, but redis::Client talks to one server: use {} for this deployment",
        setting::kRedisMode, settings.mode == RedisMode::cluster ? "cluster" : "sentinel",
        settings.mode == RedisMode::cluster ? "redis::ClusterClient (pools().redis_cluster())"
                                            : "redis::SentinelClient (pools().redis_sentinel())"));
  }
  if (std::string problem = poolkit::detail::redis_hosts_problem(url, RedisMode::standalone);
      !problem.empty()) {
    throw ConfigError(
        fmt::format("{} ({}): {}", setting::kRedisUrl, shorten_value(endpoint.address), problem));
  }
  if (url.scheme == "unix") {
    endpoint.socket_path = url.path;
  } else {
    endpoint.host = url.hosts.front().name;
    endpoint.port = url.hosts.front().port.value_or(kDefaultPort);
  }
  endpoint.username = url.username;
  endpoint.password = url.password;
  if (!endpoint.password) endpoint.password = url.query_value("password");
  endpoint.database = poolkit::detail::redis_database(url);
  endpoint.client_name =
      settings.client_name ? as_client_name(*settings.client_name) : process_name();
  endpoint.connect_timeout = settings.connect_timeout;
  endpoint.socket_timeout = settings.socket_timeout;
  if (url.scheme == "rediss") {
    TlsConfig config = tls_config_of(settings, url);
    config.resume_sessions = resume_tls_sessions;
    endpoint.tls = std::make_shared<TlsContext>(std::move(config));
  }
  return endpoint;
}

TlsConfig tls_config_of(const RedisSettings& settings, const Url& url) {
  const poolkit::detail::RedisUrlTls from_url = poolkit::detail::redis_url_tls(url);
  TlsConfig config;
  // Each value and the name of where it came from: the URL's option, else the variable.
  const auto pick = [](const std::optional<std::string>& in_url, std::string_view option,
                       const std::optional<std::string>& in_settings, std::string_view variable,
                       std::string& value, std::string& source) {
    value = in_url ? *in_url : in_settings.value_or("");
    source = in_url ? url_option_source(option) : std::string(variable);
  };
  const TlsOptions& tls = settings.tls;
  pick(from_url.ca_certs, "ssl_ca_certs", tls.ca_file,
       tls.ca_source.empty() ? setting::kRedisSslCaCerts : std::string_view(tls.ca_source),
       config.ca_certs, config.ca_certs_source);
  pick(from_url.certfile, "ssl_certfile", tls.cert_file, setting::kRedisSslCertfile,
       config.certfile, config.certfile_source);
  pick(from_url.keyfile, "ssl_keyfile", tls.key_file, setting::kRedisSslKeyfile, config.keyfile,
       config.keyfile_source);
  config.verify_peer = from_url.verify_peer.value_or(tls.verify_peer);
  config.cert_reqs_source =
      from_url.verify_peer ? url_option_source("ssl_cert_reqs") : setting::kRedisSslCertReqs;
  config.check_hostname = from_url.check_hostname.value_or(tls.verify_hostname);
  config.check_hostname_source = from_url.check_hostname
                                     ? url_option_source("ssl_check_hostname")
                                     : std::string(setting::kRedisSslCheckHostname);
  if (!config.keyfile.empty() && config.certfile.empty()) {
    throw ConfigError(
        fmt::format("{} ({}) names a key but no client certificate is named; set {} "
                    "too",
                    config.keyfile_source, config.keyfile, setting::kRedisSslCertfile));
  }
  return config;
}

Connection open_connection(const std::shared_ptr<const Endpoint>& endpoint, Deadline deadline) {
  const Deadline connect_deadline =
      std::min(deadline, std::chrono::steady_clock::now() + endpoint->connect_timeout);
  Connection connection(connect_socket(*endpoint, connect_deadline), endpoint);
  if (endpoint->tls) start_tls(connection, *endpoint, connect_deadline);
  // Only the handshake's commands were written when it fails, none of a caller's: its errors
  // say Sent::no.
  try {
    handshake(connection, *endpoint);
  } catch (const TlsError&) {
    throw;
  } catch (const ConnectError& error) {
    // A TLS port drops a plain-text client at its first command.
    if (endpoint->tls || endpoint->is_unix()) throw ConnectError(Backend::redis, error.what());
    throw ConnectError(Backend::redis, fmt::format("{} (while setting the connection up: if that "
                                                   "port speaks TLS, use rediss://)",
                                                   error.what()));
  } catch (const TimeoutError& error) {
    throw TimeoutError(Backend::redis, error.what(), Sent::no);
  }
  ConnectionAccess::begin_operation(connection);  // the handshake's writes are not a caller's
  return connection;
}

bool Connector::check(Connection& connection, Deadline) {
  try {
    ConnectionAccess::begin_operation(connection);
    return connection.command("PING").as_string() == "PONG";
  } catch (const std::exception&) {
    return false;
  }
}

void Connector::close(Connection&) noexcept {
  // Closing the socket is enough: the server drops the client at once, and QUIT would cost
  // a round trip on a connection that may already be dead.
}

}  // namespace poolkit::redis::detail
