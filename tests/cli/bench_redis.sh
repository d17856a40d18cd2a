#!/usr/bin/env bash
# `poolkit bench redis` against a real redis-server on a free loopback port: the JSON report's
# shape, --no-reuse, REDIS_URL from the environment, and exit status 2 on bad arguments.
# Usage: bench_redis.sh <poolkit binary> <repository root>
#
# Never print a command line or output that could hold the password: this script's output is
# scanned for it afterwards. Failure messages show output with the password replaced.
set -uo pipefail

bin=$(realpath "$1")
secret=${POOLKIT_TEST_SECRET:?POOLKIT_TEST_SECRET must be set}
scratch=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -9 "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; fi
  rm -rf "$scratch"
}
trap cleanup EXIT
failures=0

scrub() { sed "s/${secret}/<SECRET>/g"; }

fail() {
  echo "FAIL: $1" >&2
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | scrub | head -20 | sed 's/^/    /' >&2; fi
  failures=$((failures + 1))
}

# Runs poolkit in a clean environment (plus VAR=value words before the arguments), splitting
# stdout ($out) from stderr ($err). Sets $status.
run() {
  local assignments=()
  while [ $# -gt 0 ] && [[ $1 == *=* ]]; do
    assignments+=("$1")
    shift
  done
  out=$(env -i PATH="$PATH" "${assignments[@]}" "$bin" "$@" 2>"$scratch/stderr")
  status=$?
  err=$(cat "$scratch/stderr")
}

# Starts redis-server with requirepass on a free loopback port (a few random tries: a port
# taken meanwhile just fails that try). Sets $port and $server_pid.
start_server() {
  local redis_server
  redis_server=$(command -v redis-server || echo /usr/bin/redis-server)
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
      "$port" "$scratch" "$secret" >"$scratch/redis.conf"
    chmod 600 "$scratch/redis.conf"
    "$redis_server" "$scratch/redis.conf" >"$scratch/redis.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
      if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=
  done
  echo "FAIL: could not start redis-server" >&2
  exit 1
}

start_server
url="redis://:${secret}@127.0.0.1:${port}/0"

# --- the JSON report, pooled
run bench redis --url "$url" --concurrency 2 --duration 0.5 --json --quiet
[ "$status" -eq 0 ] || fail "pooled run exits 0 (got $status)" "$err"
jq -e '
  .backend == "redis" and (.url | type == "string") and .concurrency == 2 and .pool_size >= 1
  and .reuse == true and .duration_s > 0 and .ops > 0 and .ops_per_sec > 0
  and ([.latency_us.p50, .latency_us.p99, .latency_us.p999, .latency_us.max] | all(type == "number"))
  and .latency_us.p50 <= .latency_us.max
  and ([.errors.timeout, .errors.connect, .errors.pool_timeout, .errors.server, .errors.other]
       | all(. == 0))
  and .connections_opened >= 1 and .connections_opened <= 2' <<<"$out" >/dev/null ||
  fail "pooled JSON has every field, no errors, at most 2 connections" "$out"
[[ $out == *"127.0.0.1:${port}"* ]] || fail "the report names the server" "$out"
[[ $out$err != *"$secret"* ]] || fail "the password never appears in the output"

# --- one connection per operation
run bench redis --url "$url" --concurrency 2 --duration 0.5 --no-reuse --json --quiet
[ "$status" -eq 0 ] || fail "--no-reuse run exits 0 (got $status)" "$err"
jq -e '.reuse == false and .ops > 0 and .connections_opened >= .ops' <<<"$out" >/dev/null ||
  fail "--no-reuse opens a connection per operation" "$out"

# --- REDIS_URL from the environment, --pool-size, and the text report
run "REDIS_URL=$url" bench redis --concurrency 3 --duration 0.3 --pool-size 1 --quiet
[ "$status" -eq 0 ] || fail "REDIS_URL run exits 0 (got $status)" "$err"
[[ $out == *"pool size 1"* ]] || fail "--pool-size reaches the report" "$out"
[[ $out != *"$secret"* ]] || fail "the text report hides the password"

# --- bad arguments exit 2
expect_invalid() {
  local what=$1
  shift
  run "$@"
  [ "$status" -eq 2 ] || fail "$what exits 2 (got $status)" "$out$err"
}
expect_invalid "concurrency 0" bench redis --url "$url" --concurrency 0 --duration 1
expect_invalid "a missing --duration" bench redis --url "$url" --concurrency 1
expect_invalid "a negative --rate" bench redis --url "$url" -c 1 -d 1 --rate -5
expect_invalid "an unknown option" bench redis --url "$url" -c 1 -d 1 --bogus
expect_invalid "a URL that does not parse" bench redis --url "not a url" -c 1 -d 1
expect_invalid "no URL at all" bench redis -c 1 -d 1
expect_invalid "rediss://" bench redis --url "rediss://:${secret}@127.0.0.1:${port}/0" -c 1 -d 1
[[ $err == *"TLS is not supported yet"* ]] || fail "rediss:// says TLS is not supported yet" "$err"
[[ $err != *"$secret"* ]] || fail "the rediss:// error hides the password"

# --- a server that is not there: the setup fails with status 1 and says why
kill -9 "$server_pid" 2>/dev/null
wait "$server_pid" 2>/dev/null
server_pid=
run bench redis --url "$url" -c 1 -d 0.3 --quiet
[ "$status" -eq 1 ] || fail "an unreachable server exits 1 (got $status)" "$err"
[[ $err == *"could not connect"* ]] || fail "an unreachable server is named" "$err"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "bench redis: all checks passed"
