#!/usr/bin/env bash
# `poolkit bench mongo` against FerretDB (started here from the launcher the build made) or the
# MongoDB in MONGODB_TEST_URL: JSON fields, reuse vs --no-reuse, exit statuses, and that the test
# password never appears. Usage: bench_mongo.sh <poolkit binary> <repository root>
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"

# Runs poolkit bench mongo from /tmp in a clean environment (plus VAR=value words first). Sets
# $out (stdout), $err (stderr) and $status.
run() {
  split_assignments "$@"
  pushd /tmp >/dev/null || exit 1
  run_split "${assignments[@]}" bench mongo "${arguments[@]}"
  popd >/dev/null || exit 1
}

if [ -n "${MONGODB_TEST_URL:-}" ]; then
  url=$MONGODB_TEST_URL
else
  launcher="$build_dir/ferretdb-launcher/ferretdb-launcher"
  if [ ! -x "$launcher" ]; then
    echo "SKIP: no FerretDB launcher at $launcher (Go missing at configure time) and no MONGODB_TEST_URL"
    exit 0
  fi
  run_dir=$(mktemp -d)
  export POOLKIT_FERRETDB_RUN_DIR="$run_dir" POOLKIT_FERRETDB_LAUNCHER="$launcher"
  trap '"$root/scripts/ferretdb" stop >/dev/null 2>&1; rm -rf "$run_dir"' EXIT
  url=$("$root/scripts/ferretdb" start) || {
    echo "FAIL: FerretDB did not start" >&2
    exit 1
  }
fi

# Pooled: at most --pool-size connections, no errors, the shared JSON fields.
run --url "$url" -c 4 -d 1 --pool-size 4 --quiet --json
if [ "$status" -ne 0 ]; then
  fail "pooled run exited $status" "$err"
else
  echo "$out" | jq -e '.backend == "mongo" and .reuse == true and .pool_size == 4 and .concurrency == 4
      and .ops > 0 and .ops_per_sec > 0 and .latency_us.p50 > 0 and .latency_us.p99 >= .latency_us.p50
      and ([.errors[]] | add) == 0 and .connections_opened >= 1 and .connections_opened <= 4
      and '"$bench_errors_shape" >/dev/null ||
    fail "pooled JSON is wrong" "$out"
fi

# --no-reuse: a connection per operation.
run --url "$url" -c 2 -d 1 --quiet --json --no-reuse
if [ "$status" -ne 0 ]; then
  fail "--no-reuse run exited $status" "$err"
else
  echo "$out" | jq -e '.reuse == false and .ops > 0 and ([.errors[]] | add) == 0
      and .connections_opened >= .ops' >/dev/null || fail "--no-reuse JSON is wrong" "$out"
fi

# Text report, URL taken from MONGODB_URL.
run --url "$url" -c 4 --rate 40 -d 3 --json --quiet
expect_paced_ops 40 3 "paced mongo"

run MONGODB_URL="$url" -c 1 -d 0.5 --quiet
[ "$status" -eq 0 ] || fail "MONGODB_URL run exited $status" "$err"
[[ $out == *"mongo bench"* && $out == *"connections"* ]] || fail "text report is wrong" "$out"

# Invalid input: status 2 and a message naming the problem.
run -c 1 -d 1
[ "$status" -eq 2 ] && [[ $err == *"MONGODB_URL"* ]] || fail "no URL: expected status 2" "$err"
run --url http://127.0.0.1:1/ -c 1 -d 1
[ "$status" -eq 2 ] && [[ $err == *"not a MongoDB URL"* ]] || fail "http URL: expected status 2" "$err"
run --url "$url" -c 0 -d 1
[ "$status" -eq 2 ] || fail "--concurrency 0: expected status 2, got $status" "$err"

# No server: status 1, and the password stays out of everything printed.
# Port 1 (tcpmux) on loopback: nothing listens there, connecting is refused at once.
closed_port=1
run MONGODB_SERVER_SELECTION_TIMEOUT_MS=300 MONGODB_CONNECT_TIMEOUT_MS=300 \
  --url "mongodb://app:${secret}@127.0.0.1:${closed_port}/appdb" -c 1 -d 1 --json
[ "$status" -eq 1 ] || fail "unreachable server: expected status 1, got $status" "$err"
[[ $err == *"127.0.0.1:${closed_port}"* ]] || fail "the error does not name the server" "$err"
if [[ $out$err == *"$secret"* ]]; then fail "the password was printed" "$out$err"; fi

finish bench_mongo.sh
