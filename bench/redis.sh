#!/usr/bin/env bash
# Redis: `poolkit bench redis` against redis-benchmark (the C peer shipped with Redis, one event
# loop) and against N bare hiredis threads without a pool (bench/redis_raw_peer.cpp, poolkit's
# threading model without its pool), all running GET of one 3-byte value against one
# redis-server on a free loopback port, in this one invocation: N = 1, 8, 32, then poolkit with --no-reuse (a new connection per GET) at 8, and
# 32 threads on a pool of 8 with the client's default check-out order (strict_fifo=false) and
# with --strict-fifo. Prints markdown tables.
#
# Usage: bench/redis.sh [poolkit binary] (default build/tools/poolkit/poolkit; the raw peer is
#        looked for in bench/ of the same build)
#        DURATION=seconds per run (default 3); ROUNDS=alternating runs of each tool per N, the
#        table shows the median of each column (default 3).
set -euo pipefail

# shellcheck source=redis_lib.sh
source "$(dirname "$0")/redis_lib.sh"
redis_bench_setup bench/redis.sh redis-server redis-benchmark redis-cli jq
poolkit=$(realpath "${1:-$root/build/tools/poolkit/poolkit}")
raw_peer=$(dirname "$poolkit")/../../bench/poolkit_redis_raw_peer
[ -x "$raw_peer" ] || { echo "bench/redis.sh: build the benchmarks first ($raw_peer)" >&2; exit 1; }

start_redis_server "$scratch" "requirepass $password" || exit 1
port=$redis_port
url="redis://:${password}@127.0.0.1:${port}/0"
# redis-benchmark -t get reads the key "key:__rand_int__" (without -r); poolkit sets its own.
redis-cli -p "$port" set "key:__rand_int__" xxx >/dev/null

peer() { redis_benchmark_get "$1"; }

# N bare hiredis threads; prints "rps p50_us p99_us".
raw() { "$raw_peer" "$port" "$1" "$duration" "key:__rand_int__"; }

ours() { poolkit_bench_redis "$@"; }

echo "| N | redis-benchmark rps | poolkit rps | poolkit / peer | peer p50 ms | poolkit p50 ms | peer p99 ms | poolkit p99 ms | p99 poolkit / peer | poolkit errors | bare hiredis threads rps | their p50 ms | their p99 ms | p99 poolkit / bare threads |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A pooled_rps
for n in 1 8 32; do
  peer_rps=() peer_p50=() peer_p99=() our_rps=() our_p50=() our_p99=() our_errors=0
  raw_rps=() raw_p50=() raw_p99=()
  for _ in $(seq 1 "$rounds"); do  # alternate, so both see the same background load
    read -r a b c _ < <(peer "$n")
    peer_rps+=("$a") peer_p50+=("$b") peer_p99+=("$c")
    read -r a b c _ e < <(ours --concurrency "$n")
    our_rps+=("$a") our_p50+=("$(ms "$b")") our_p99+=("$(ms "$c")") our_errors=$((our_errors + e))
    read -r a b c < <(raw "$n")
    raw_rps+=("$a") raw_p50+=("$(ms "$b")") raw_p99+=("$(ms "$c")")
  done
  pr=$(echo "${peer_rps[*]}" | median) p50=$(echo "${peer_p50[*]}" | median) p99=$(echo "${peer_p99[*]}" | median)
  r=$(echo "${our_rps[*]}" | median) o50=$(echo "${our_p50[*]}" | median) o99=$(echo "${our_p99[*]}" | median)
  rr=$(echo "${raw_rps[*]}" | median) r50=$(echo "${raw_p50[*]}" | median) r99=$(echo "${raw_p99[*]}" | median)
  pooled_rps[$n]=$r
  printf '| %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %s | %.0f | %s | %s | %s |\n' "$n" "$pr" "$r" \
    "$(ratio "$r" "$pr")" "$p50" "$o50" "$p99" "$o99" "$(ratio "$o99" "$p99")" "$our_errors" \
    "$rr" "$r50" "$r99" "$(ratio "$o99" "$r99")"
done
echo
echo "| poolkit variant | N | rps | p50 ms | p99 ms | connections opened | errors | compared with |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
read -r rps p50 p99 opened errors < <(ours --concurrency 8 --no-reuse)
printf '| --no-reuse (connect + AUTH + CLIENT SETNAME per GET) | 8 | %.0f | %s | %s | %s | %s | pooled is %s faster |\n' \
  "$rps" "$(ms "$p50")" "$(ms "$p99")" "$opened" "$errors" "$(ratio "${pooled_rps[8]}" "$rps")"
echo
echo "32 threads sharing a pool of 8 connections (the pool, not Redis, is the bottleneck):"
echo
echo "| check-out order | rps | p50 ms | p99 ms | p99.9 ms | errors |"
echo "|---|---:|---:|---:|---:|---:|"
for variant in default --strict-fifo; do
  flags=(--concurrency 32 --pool-size 8)
  [ "$variant" = default ] || flags+=("$variant")
  read -r rps p50 p99 p999 errors < <("$poolkit" bench redis --url "$url" --duration "$duration" \
    --json --quiet "${flags[@]}" |
    jq -r '"\(.ops_per_sec) \(.latency_us.p50) \(.latency_us.p99) \(.latency_us.p999) \([.errors[]] | add)"')
  label=$([ "$variant" = default ] && echo "strict_fifo=false (the client's default)" || echo "--strict-fifo (CMAP order)")
  printf '| %s | %.0f | %s | %s | %s | %s |\n' "$label" "$rps" "$(ms "$p50")" "$(ms "$p99")" "$(ms "$p999")" "$errors"
done
