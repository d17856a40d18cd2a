#!/usr/bin/env bash
# `poolkit bench http` against a real nginx on a free loopback port: the JSON report's shape,
# both clients, error kinds with their first message, exit status 1 when nothing succeeded and 2
# on bad arguments. Usage: bench_http.sh <poolkit binary> <root>
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"

# shellcheck source=../../scripts/lib/nginx.sh
source "$root/scripts/lib/nginx.sh"
scratch=$(mktemp -d)
cleanup() {
  stop_nginx
  stop_redis_server
  rm -rf "$scratch"
}
trap cleanup EXIT

start_nginx "$scratch" || exit 1
port=$nginx_port
url="http://127.0.0.1:$port/small.txt"

bench() { run bench http "$@"; }

shape='type == "object" and .backend == "http" and (.url | type == "string")
  and (.concurrency | type == "number") and (.pool_size | type == "number")
  and (.reuse | type == "boolean") and (.duration_s | type == "number")
  and (.ops | type == "number") and (.ops_per_sec | type == "number")
  and (.latency_us | has("p50") and has("p99") and has("p999") and has("max"))
  and (.connections_opened | type == "number")
  and '"$bench_errors_shape"

check_json() {  # extra-jq-condition description
  if [ "$status" -ne 0 ]; then fail "$2: exit status $status" "$out"; return; fi
  jq -e "($shape) and ($1)" <<<"$out" >/dev/null || fail "$2: unexpected JSON" "$out"
}

bench --url "$url" --concurrency 4 --duration 0.5 --json --quiet
check_json '.ops > 0 and .concurrency == 4 and .reuse == true and .connections_opened <= 4
  and .errors.other == 0' "async"

bench --url "$url" --concurrency 2 --duration 0.5 --json --quiet --sync
check_json '.ops > 0 and .concurrency == 2 and .connections_opened <= 2' "sync"

bench --url "$url" --concurrency 2 --duration 0.5 --json --quiet --no-reuse
check_json '.ops > 0 and .reuse == false and .connections_opened == .ops' "no-reuse"

# Nothing succeeds: the report, then exit status 1; the first error of each kind says why.
run_split bench http --url "http://127.0.0.1:$port/missing" --concurrency 1 --duration 0.3 --json --quiet
expect_status 1 "a run where every request got a 404"
jq -e "($shape) and .ops == 0 and .errors.server > 0
  and (.error_examples.server | contains(\"answered HTTP 404\"))" <<<"$out" >/dev/null ||
  fail "a 404 counts as a server error, with its message" "$out"
[[ $err == *"no operation succeeded"* ]] || fail "a run without success says so on stderr" "$err"

bench --url "http://127.0.0.1:$port/missing" --concurrency 1 --duration 0.3 --quiet --sync
expect_status 1 "a sync run where every request got a 404 (text report)"
expect_output "first error of each kind" "the text report lists the first error of each kind"
expect_output "answered HTTP 404" "the text report shows the 404"

bench --url "http://127.0.0.1:$port/missing" --concurrency 1 --duration 0.2 --quiet --sweep 1:2
expect_status 1 "a sweep where nothing succeeded"
expect_output "answered HTTP 404" "the sweep shows the 404"

for client in "" --sync; do
  bench --url "$url" --concurrency 4 --rate 40 --duration 3 --json --quiet $client
  expect_paced_ops 40 3 "paced http $client"
done

bench --url "$url" --concurrency 2 --duration 0.3 --quiet --sweep 1:2
expect_status 0 "--sweep 1:2"

# A Redis server is no HTTP server: every request breaks with a protocol error until the circuit
# for it opens (after CIRCUIT_BREAKER_FAILURE_THRESHOLD of them); each kind in its own field.
start_redis_server "$scratch" || exit 1
run_split bench http --url "http://127.0.0.1:$redis_port/x" --concurrency 2 --duration 1 --json --quiet
expect_status 1 "bench http against a Redis server"
jq -e "($shape) and .ops == 0 and .errors.protocol > 0 and .errors.circuit_open > 0
  and .errors.other == 0 and (.error_examples.circuit_open | contains(\"circuit\"))" \
  <<<"$out" >/dev/null || fail "protocol errors and an open circuit each have their field" "$out"

for bad in "--url ftp://127.0.0.1/ --concurrency 1 --duration 1" \
           "--url $url --concurrency 0 --duration 1" \
           "--url $url --concurrency 1 --duration -1" \
           "--concurrency 1 --duration 1" \
           "--url $url --concurrency 1 --duration 1 --bogus"; do
  # shellcheck disable=SC2086
  bench $bad
  expect_status 2 "bad arguments ($bad)"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "bench http: all checks passed"
