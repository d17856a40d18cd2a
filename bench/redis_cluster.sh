#!/usr/bin/env bash
# Redis Cluster throughput: `poolkit bench redis --mode cluster` (1,024 keys over every slot,
# blocking threads on a pool per node) against `redis-benchmark --cluster -t get` (one event
# loop, each client on one master, random keys of that master's slots), and each tool against
# one standalone redis-server, all at the same concurrency, in turns so that all four see the
# same background load; then the async client over the cluster (redis::AsyncClusterClient, N in
# flight and T threads blocking) against redis-benchmark --cluster pipelined (-P 16). The cluster (3 masters, 3 replicas, the tests' layout) and the node
# come from poolkit-redis-topology. Prints a markdown table of the medians, with ratios.
#
# Usage: bench/redis_cluster.sh [poolkit binary] (default build/tools/poolkit/poolkit; the
#        launcher is looked for in tools/local_servers of the same build)
#        DURATION=seconds per run (default 5); ROUNDS=turns of the four runs, the table shows the
#        median of each (default 3); THREADS=concurrency of every run (default 32);
#        INFLIGHT=commands the async cluster client keeps in flight (default 256).
set -euo pipefail

# shellcheck source=redis_lib.sh
source "$(dirname "$0")/redis_lib.sh"
redis_bench_setup bench/redis_cluster.sh redis-server redis-benchmark redis-cli jq
duration=${DURATION:-5}
threads=${THREADS:-32}
inflight=${INFLIGHT:-256}
poolkit=$(realpath "${1:-$root/build/tools/poolkit/poolkit}")
launcher=$(dirname "$poolkit")/../local_servers/poolkit-redis-topology
[ -x "$launcher" ] || { echo "bench/redis_cluster.sh: build poolkit_redis_topology first ($launcher)" >&2; exit 1; }

# The cluster through poolkit-redis-topology, kept until the script ends (stopped before the
# library's clean-up runs); its ready file holds url= and masters=.
export BENCH_REDIS_PASSWORD=$password
"$launcher" cluster "$scratch/cluster.ready" --password-env BENCH_REDIS_PASSWORD --max-seconds 3600 \
  >"$scratch/cluster.log" 2>&1 &
cluster_pid=$!
trap '{ kill -TERM "$cluster_pid" && wait "$cluster_pid"; } 2>/dev/null || true; stop_redis_server; rm -rf "$scratch"' EXIT
for _ in $(seq 1 600); do
  [ -f "$scratch/cluster.ready" ] && break
  kill -0 "$cluster_pid" 2>/dev/null || { cat "$scratch/cluster.log" >&2; exit 1; }
  sleep 0.1
done
cluster_url=$(sed -n 's/^url=//p' "$scratch/cluster.ready")
read -r -a masters <<<"$(sed -n 's/^masters=//p' "$scratch/cluster.ready")"

start_redis_server "$scratch" "requirepass $password" || exit 1
port=$redis_port
single_url="redis://:${password}@127.0.0.1:${port}/0"

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

# The async cluster client (its default connections per node); prints "ops_per_sec errors".
ours_async() {  # extra flags
  "$poolkit" bench redis --url "$cluster_url" --mode cluster --async --duration "$duration" \
    --json --quiet "$@" | jq -r '"\(.ops_per_sec) \([.errors[]] | add)"'
}

spread() { tr ' ' '\n' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f – %.0f", lo, hi}'; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
pk_cluster=() rb_cluster=() pk_single=() rb_single=() errors=0
pk_inflight=() pk_threads=() rb_pipelined=()
for _ in $(seq 1 "$rounds"); do
  read -r a e < <(ours "$cluster_url" --mode cluster)
  pk_cluster+=("$a") errors=$((errors + e))
  rb_cluster+=("$(peer "${masters[0]}" --cluster)")
  read -r a e < <(ours "$single_url")
  pk_single+=("$a") errors=$((errors + e))
  rb_single+=("$(peer "$port")")
  read -r a e < <(ours_async --inflight "$inflight")
  pk_inflight+=("$a") errors=$((errors + e))
  read -r a e < <(ours_async --threads "$threads")
  pk_threads+=("$a") errors=$((errors + e))
  rb_pipelined+=("$(peer "${masters[0]}" --cluster -P 16)")
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
pi=$(echo "${pk_inflight[*]}" | median) pt=$(echo "${pk_threads[*]}" | median)
rp=$(echo "${rb_pipelined[*]}" | median)
echo "| over the cluster | rps | / redis-benchmark -c $threads | / redis-benchmark -c $threads -P 16 |"
echo "|---|---:|---:|---:|"
printf '| poolkit async cluster client, %s in flight | %.0f (%s) | %s | %s |\n' "$inflight" \
  "$pi" "$(echo "${pk_inflight[*]}" | spread)" "$(ratio "$pi" "$rc")" "$(ratio "$pi" "$rp")"
printf '| poolkit async cluster client, %s threads blocking | %.0f (%s) | %s | %s |\n' "$threads" \
  "$pt" "$(echo "${pk_threads[*]}" | spread)" "$(ratio "$pt" "$rc")" "$(ratio "$pt" "$rp")"
printf '| poolkit pooled cluster client, %s threads | %.0f | %s | %s |\n' "$threads" \
  "$pc" "$(ratio "$pc" "$rc")" "$(ratio "$pc" "$rp")"
printf '| redis-benchmark --cluster -t get -c %s -P 16 | %.0f (%s) | %s | |\n' "$threads" \
  "$rp" "$(echo "${rb_pipelined[*]}" | spread)" "$(ratio "$rp" "$rc")"
echo
echo "poolkit errors in all runs: $errors"
