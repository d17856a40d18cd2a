# Sourced by bash scripts (bench/redis*.sh, tests/cli/helpers.bash): start_redis_server
# [--tls CA_DIR] DIR [CONFIG] starts redis-server on a free 127.0.0.1 port, its configuration and
# log in DIR, without persistence, with CONFIG appended (e.g. "requirepass …"; mode 600, as it
# may hold a password). With --tls it listens TLS only, with CA_DIR's server.pem, server.key and
# ca.pem (make_test_ca's folder), client certificates not asked for. Sets redis_port and
# redis_pid; stop_redis_server ends it. bash can't ask the kernel for a free port, so it picks
# one at random and tries another when redis-server can't bind it.

redis_pid=
redis_port=

start_redis_server() {
  local ca_dir="" dir config redis_server
  if [ "${1:-}" = --tls ]; then
    ca_dir=$2
    shift 2
  fi
  dir=$1 config=${2:-}
  redis_server=$(command -v redis-server || echo /usr/bin/redis-server)
  [ -x "$redis_server" ] || { echo "redis-server not found: run scripts/install-deps" >&2; return 1; }
  for _ in $(seq 1 20); do
    redis_port=$((20000 + RANDOM % 40000))
    {
      if [ -n "$ca_dir" ]; then
        printf 'port 0\ntls-port %s\n' "$redis_port"
        printf 'tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\n' \
          "$ca_dir/server.pem" "$ca_dir/server.key" "$ca_dir/ca.pem"
      else
        printf 'port %s\n' "$redis_port"
      fi
      printf 'bind 127.0.0.1\nsave ""\nappendonly no\ndir %s\n%s\n' "$dir" "$config"
    } >"$dir/redis.conf"
    chmod 600 "$dir/redis.conf"
    "$redis_server" "$dir/redis.conf" >"$dir/redis.log" 2>&1 &
    redis_pid=$!
    for _ in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then return 0; fi
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    stop_redis_server
  done
  echo "could not start redis-server${ca_dir:+ with TLS}" >&2
  return 1
}

stop_redis_server() {
  if [ -n "$redis_pid" ]; then
    kill -9 "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true  # under set -e too: its status is the kill's
  fi
  redis_pid=
}
