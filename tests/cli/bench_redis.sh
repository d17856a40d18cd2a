#!/usr/bin/env bash
# `poolkit bench redis` against a real redis-server on a free loopback port: the JSON report's
# shape, --no-reuse, REDIS_URL from the environment, the async client (--async), and exit
# status 2 on bad arguments.
# Usage: bench_redis.sh <poolkit binary> <repository root>. Never print the password (see
# helpers.bash).
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"
use_scratch_and_redis_server

start_redis_server "$scratch" "requirepass $secret" || exit 1
url="redis://:${secret}@127.0.0.1:${redis_port}/0"

# --- the JSON report, pooled
run bench redis --url "$url" --concurrency 2 --duration 0.5 --json --quiet
expect_status 0 "pooled run"
jq -e '
  .backend == "redis" and (.url | type == "string") and .concurrency == 2 and .pool_size >= 1
  and .reuse == true and .duration_s > 0 and .ops > 0 and .ops_per_sec > 0
  and ([.latency_us.p50, .latency_us.p99, .latency_us.p999, .latency_us.max] | all(type == "number"))
  and .latency_us.p50 <= .latency_us.max
  and ([.errors[]] | all(. == 0)) and .error_examples == {}
  and .connections_opened >= 1 and .connections_opened <= 2 and '"$bench_errors_shape" <<<"$out" >/dev/null ||
  fail "pooled JSON has every field, no errors, at most 2 connections" "$out"
[[ $out == *"127.0.0.1:${redis_port}"* ]] || fail "the report names the server" "$out"
expect_no_secret "pooled JSON report"

# --- one connection per operation
run bench redis --url "$url" --concurrency 2 --duration 0.5 --no-reuse --json --quiet
expect_status 0 "--no-reuse run"
jq -e '.reuse == false and .ops > 0 and .connections_opened >= .ops' <<<"$out" >/dev/null ||
  fail "--no-reuse opens a connection per operation" "$out"

# --- REDIS_URL from the environment, --pool-size, and the text report
run "REDIS_URL=$url" bench redis --concurrency 3 --duration 0.3 --pool-size 1 --quiet
expect_status 0 "REDIS_URL run"
expect_output "pool size 1" "--pool-size reaches the report"
expect_no_secret "text report"

# --- a pool-size sweep recommends a REDIS_MAX_CONNECTIONS
run bench redis --url "$url" --concurrency 2 --duration 0.2 --sweep 1:2 --quiet
expect_status 0 "--sweep run"
expect_output "REDIS_MAX_CONNECTIONS=" "--sweep recommends a setting"
expect_no_secret "sweep table"

# --- the async client: commands in flight from callbacks, or threads calling get()
run bench redis --url "$url" --async --inflight 16 --duration 0.5 --json --quiet
expect_status 0 "--async --inflight run"
jq -e '.concurrency == 16 and .ops > 0 and ([.errors[]] | all(. == 0))
  and .batch_mean >= 1 and .batch_max >= 1 and .batch_max <= 16 and .cpu_us_per_op > 0
  and .connections_opened == .pool_size' <<<"$out" >/dev/null ||
  fail "--async --inflight reports batches and CPU per command, no errors" "$out"
expect_no_secret "async JSON report"
run bench redis --url "$url" --async --threads 3 --pool-size 1 --duration 0.3 --quiet
expect_status 0 "--async --threads run"
expect_output "batch_mean" "the text report shows the batch sizes"
expect_output "pool size 1" "--pool-size sets the async client's connections"

# --- bad arguments exit 2
expect_invalid() {
  local what=$1
  shift
  run "$@"
  expect_status 2 "$what"
}
expect_invalid "concurrency 0" bench redis --url "$url" --concurrency 0 --duration 1
expect_invalid "no --concurrency" bench redis --url "$url" --duration 1
expect_invalid "--inflight without --async" bench redis --url "$url" --inflight 4 --duration 1
expect_invalid "--async with --no-reuse" bench redis --url "$url" --async -c 2 -d 1 --no-reuse
expect_invalid "a missing --duration" bench redis --url "$url" --concurrency 1
expect_invalid "a negative --rate" bench redis --url "$url" -c 1 -d 1 --rate -5
expect_invalid "an unknown option" bench redis --url "$url" -c 1 -d 1 --bogus
expect_invalid "a URL that does not parse" bench redis --url "not a url" -c 1 -d 1
expect_invalid "no URL at all" bench redis -c 1 -d 1
expect_invalid "rediss:// naming a missing CA file" bench redis \
  --url "rediss://:${secret}@127.0.0.1:${redis_port}/0?ssl_ca_certs=/nonexistent/ca.pem" -c 1 -d 1
expect_output "ssl_ca_certs" "rediss:// naming a missing CA file"
expect_no_secret "rediss:// error"

run bench redis --url "$url" --concurrency 4 --rate 40 --duration 3 --json --quiet
expect_paced_ops 40 3 "paced redis"

# A restart without persistence loses the bench key: the bench writes it again instead of
# counting every GET as an error.
(
  sleep 0.3
  for _ in 1 2 3 4 5; do
    redis-cli -p "$redis_port" -a "$secret" --no-auth-warning DEL poolkit:bench >/dev/null
    sleep 0.1
  done
) &
deleter=$!
run bench redis --url "$url" --concurrency 2 --duration 1.5 --json --quiet
wait "$deleter"
if ! jq -e '.ops > 0 and ([.errors[]] | add) == 0' <<<"$out" >/dev/null; then
  fail "a vanished bench key counts as errors" "$out"
fi

# --- the server dies during the run: what succeeded before counts, so the run exits 0; the
# failures after have their kind and first message
(
  sleep 0.5
  kill -9 "$redis_pid" 2>/dev/null
) &
killer=$!
run_split bench redis --url "$url" --concurrency 2 --duration 1.5 --json --quiet
wait "$killer"
wait "$redis_pid" 2>/dev/null
redis_pid=
expect_status 0 "a run during which the server died"
jq -e '.ops > 0 and ([.errors[]] | add) > 0 and '"$bench_errors_shape" <<<"$out" >/dev/null ||
  fail "a server that died mid-run: errors by kind, each with its first message" "$out"
expect_no_secret "error examples"

# --- a server that is not there: the setup fails with status 1 and says why
run bench redis --url "$url" -c 1 -d 0.3 --quiet
expect_status 1 "an unreachable server"
expect_output "could not connect" "an unreachable server"

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "bench redis: all checks passed"
