#!/usr/bin/env bash
# Redis Cluster throughput: `poolkit bench redis --mode cluster` (1,024 keys over every slot,
# blocking threads on a pool per node) against `redis-benchmark --cluster -t get` (one event
# loop, each client on one master, random keys of that master's slots), and each tool against
# one standalone redis-server, all at the same concurrency, in turns so that all four see the
# same background load. The cluster (3 masters, 3 replicas, the tests' layout) and the node
# come from poolkit-redis-topology. Prints a markdown table of the medians, with ratios.
#
# Usage: bench/redis_cluster.sh [poolkit binary] (default build/tools/poolkit/poolkit; the
#        launcher is looked for in tools/local_servers of the same build)
#        DURATION=seconds per run (default 5); ROUNDS=turns of the four runs, the table shows the
#        median of each (default 3); THREADS=concurrency of every run (default 32).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
poolkit=$(realpath "${1:-$root/build/tools/poolkit/poolkit}")
launcher=$(dirname "$poolkit")/../local_servers/poolkit-redis-topology
[ -x "$launcher" ] || { echo "bench/redis_cluster.sh: build poolkit_redis_topology first ($launcher)" >&2; exit 1; }
duration=${DURATION:-5}
rounds=${ROUNDS:-3}
threads=${THREADS:-32}
scratch=$(mktemp -d)
launched=()
cleanup() {
  for pid in "${launched[@]}"; do { kill -TERM "$pid" && wait "$pid"; } 2>/dev/null || true; done
  rm -rf "$scratch"
}
trap cleanup EXIT

for tool in redis-server redis-benchmark redis-cli jq; do
  command -v "$tool" >/dev/null || { echo "bench/redis_cluster.sh: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done

# One random password for every server of this run, passed to the tools through the environment.
password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export REDISCLI_AUTH=$password BENCH_REDIS_PASSWORD=$password

# start_topology NAME: poolkit-redis-topology in the background until the script ends; its
# ready file ($scratch/NAME.ready) holds url= and the ports.
start_topology() {
  "$launcher" "$1" "$scratch/$1.ready" --password-env BENCH_REDIS_PASSWORD --max-seconds 3600 \
    >"$scratch/$1.log" 2>&1 &
  launched+=($!)
  for _ in $(seq 1 600); do
    [ -f "$scratch/$1.ready" ] && return 0
    kill -0 "${launched[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  echo "bench/redis_cluster.sh: could not start the $1:" >&2
  cat "$scratch/$1.log" >&2
  exit 1
}
ready_value() { sed -n "s/^$2=//p" "$scratch/$1.ready"; }

start_topology cluster
start_topology standalone
cluster_url=$(ready_value cluster url)
read -r -a masters <<<"$(ready_value cluster masters)"
single_url=$(ready_value standalone url)
port=$(ready_value standalone port)

# redis-benchmark, requests sized to run about $duration seconds at the rate a short probe shows;
# -r 1024 spreads the keys (in cluster mode, over the slots of each client's master). Prints rps.
peer() {  # port, then extra flags
  local at=$1 probe requests
  shift
  probe=$(redis-benchmark -p "$at" -a "$password" -t get -c "$threads" -r 1024 -n 50000 --csv "$@" 2>/dev/null |
    awk -F'"' '/^"GET"/ {print $4}')
  requests=$(awk -v r="$probe" -v d="$duration" 'BEGIN {printf "%d", r * d}')
  redis-benchmark -p "$at" -a "$password" -t get -c "$threads" -r 1024 -n "$requests" --csv "$@" 2>/dev/null |
    awk -F'"' '/^"GET"/ {print $4}'
}

# poolkit bench redis; prints "ops_per_sec errors".
ours() {  # url, then extra flags
  local url=$1
  shift
  "$poolkit" bench redis --url "$url" --concurrency "$threads" --pool-size "$threads" \
    --duration "$duration" --json --quiet "$@" |
    jq -r '"\(.ops_per_sec) \([.errors[]] | add)"'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
median() { tr ' ' '\n' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
spread() { tr ' ' '\n' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f – %.0f", lo, hi}'; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
pk_cluster=() rb_cluster=() pk_single=() rb_single=() errors=0
for _ in $(seq 1 "$rounds"); do
  read -r a e < <(ours "$cluster_url" --mode cluster)
  pk_cluster+=("$a") errors=$((errors + e))
  rb_cluster+=("$(peer "${masters[0]}" --cluster)")
  read -r a e < <(ours "$single_url")
  pk_single+=("$a") errors=$((errors + e))
  rb_single+=("$(peer "$port")")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

pc=$(echo "${pk_cluster[*]}" | median) rc=$(echo "${rb_cluster[*]}" | median)
ps=$(echo "${pk_single[*]}" | median) rs=$(echo "${rb_single[*]}" | median)
echo "GET at $threads threads/clients, ${duration} s per run, median of $rounds turns; load average $load_before before, $load_after after; $(nproc) cores."
echo
echo "| client | 3 masters + 3 replicas rps | one node rps | cluster / one node |"
echo "|---|---:|---:|---:|"
printf '| poolkit bench redis (pool of %s per node) | %.0f (%s) | %.0f (%s) | %s |\n' "$threads" \
  "$pc" "$(echo "${pk_cluster[*]}" | spread)" "$ps" "$(echo "${pk_single[*]}" | spread)" "$(ratio "$pc" "$ps")"
printf '| redis-benchmark -t get -r 1024 | %.0f (%s) | %.0f (%s) | %s |\n' \
  "$rc" "$(echo "${rb_cluster[*]}" | spread)" "$rs" "$(echo "${rb_single[*]}" | spread)" "$(ratio "$rc" "$rs")"
printf '| poolkit / redis-benchmark | %s | %s | |\n' "$(ratio "$pc" "$rc")" "$(ratio "$ps" "$rs")"
echo
echo "poolkit errors in all runs: $errors"
