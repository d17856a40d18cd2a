#!/usr/bin/env bash
# `poolkit bench http` against a real nginx on a free loopback port: the JSON report's shape,
# both clients, and exit status 2 on bad arguments. Usage: bench_http.sh <poolkit binary> <root>
set -uo pipefail

bin=$(realpath "$1")
root=$(realpath "$2")
secret=${POOLKIT_TEST_SECRET:?POOLKIT_TEST_SECRET must be set}
# shellcheck source=../../scripts/lib/nginx.sh
source "$root/scripts/lib/nginx.sh"
scratch=$(mktemp -d)
cleanup() {
  stop_nginx
  rm -rf "$scratch"
}
trap cleanup EXIT
failures=0

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash"

start_nginx "$scratch" || exit 1
port=$nginx_port
url="http://127.0.0.1:$port/small.txt"

bench() { run bench http "$@"; }

shape='type == "object" and .backend == "http" and (.url | type == "string")
  and (.concurrency | type == "number") and (.pool_size | type == "number")
  and (.reuse | type == "boolean") and (.duration_s | type == "number")
  and (.ops | type == "number") and (.ops_per_sec | type == "number")
  and (.latency_us | has("p50") and has("p99") and has("p999") and has("max"))
  and (.errors | has("timeout") and has("connect") and has("pool_timeout") and has("server")
       and has("other"))
  and (.connections_opened | type == "number")'

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

bench --url "http://127.0.0.1:$port/missing" --concurrency 1 --duration 0.3 --json --quiet
check_json '.ops == 0 and .errors.server > 0' "a 404 counts as a server error"

for client in "" --sync; do
  bench --url "$url" --concurrency 4 --rate 40 --duration 3 --json --quiet $client
  expect_paced_ops 40 3 "paced http $client"
done

bench --url "$url" --concurrency 2 --duration 0.3 --quiet --sweep 1:2
expect_status 0 "--sweep 1:2"

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
