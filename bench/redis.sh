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

root=$(cd "$(dirname "$0")/.." && pwd)
poolkit=$(realpath "${1:-$root/build/tools/poolkit/poolkit}")
raw_peer=$(dirname "$poolkit")/../../bench/poolkit_redis_raw_peer
[ -x "$raw_peer" ] || { echo "bench/redis.sh: build the benchmarks first ($raw_peer)" >&2; exit 1; }
duration=${DURATION:-3}
rounds=${ROUNDS:-3}
scratch=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then { kill -9 "$server_pid" && wait "$server_pid"; } 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

for tool in redis-server redis-benchmark redis-cli jq; do
  command -v "$tool" >/dev/null || { echo "bench/redis.sh: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done

# A password like production's, so --no-reuse pays for AUTH as a real re-connect does. It is
# random, lives only in this run, and is passed to the peers through their environment.
password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export REDISCLI_AUTH=$password

start_server() {
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    printf 'port %s\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
      "$port" "$scratch" "$password" >"$scratch/redis.conf"
    chmod 600 "$scratch/redis.conf"
    redis-server "$scratch/redis.conf" >"$scratch/redis.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
      if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    server_pid=
  done
  echo "bench/redis.sh: could not start redis-server" >&2
  exit 1
}

start_server
url="redis://:${password}@127.0.0.1:${port}/0"
# redis-benchmark -t get reads the key "key:__rand_int__" (without -r); poolkit sets its own.
redis-cli -p "$port" set "key:__rand_int__" xxx >/dev/null

# redis-benchmark: requests sized to run about $duration seconds at the rate a 1 s probe shows.
# Prints "rps p50_ms p99_ms".
peer() {
  local clients=$1 probe requests
  probe=$(redis-benchmark -p "$port" -a "$password" -t get -c "$clients" -n 20000 --csv 2>/dev/null |
    awk -F'"' '/^"GET"/ {print $4}')
  requests=$(awk -v r="$probe" -v d="$duration" 'BEGIN {printf "%d", r * d}')
  redis-benchmark -p "$port" -a "$password" -t get -c "$clients" -n "$requests" --csv 2>/dev/null |
    awk -F'"' '/^"GET"/ {print $4, $10, $14}'
}

# N bare hiredis threads; prints "rps p50_us p99_us".
raw() { "$raw_peer" "$port" "$1" "$duration" "key:__rand_int__"; }

# poolkit bench redis; prints "ops_per_sec p50_us p99_us connections_opened errors".
ours() {
  "$poolkit" bench redis --url "$url" --duration "$duration" --json --quiet "$@" |
    jq -r '"\(.ops_per_sec) \(.latency_us.p50) \(.latency_us.p99) \(.connections_opened) \([.errors[]] | add)"'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }

median() { tr ' ' '\n' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "| N | redis-benchmark rps | poolkit rps | poolkit / peer | peer p50 ms | poolkit p50 ms | peer p99 ms | poolkit p99 ms | p99 poolkit / peer | poolkit errors | bare hiredis threads rps | their p50 ms | their p99 ms | p99 poolkit / bare threads |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A pooled_rps
for n in 1 8 32; do
  peer_rps=() peer_p50=() peer_p99=() our_rps=() our_p50=() our_p99=() our_errors=0
  raw_rps=() raw_p50=() raw_p99=()
  for _ in $(seq 1 "$rounds"); do  # alternate, so both see the same background load
    read -r a b c < <(peer "$n")
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
