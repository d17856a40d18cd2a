#!/usr/bin/env bash
# `poolkit bench redis --mode cluster` against a real 6-node cluster (3 masters, 3 replicas) and
# `--mode sentinel` against a real Sentinel set, both started by poolkit-redis-topology: the
# report's fields, no errors, every master served its share (INFO commandstats on each), the
# same through the async cluster client (--async --inflight / --threads), and
# exit status 2 for sentinel mode without REDIS_SENTINEL_MASTER.
# Usage: bench_redis_cluster.sh <poolkit binary> <repository root>. Never print the password
# (see helpers.bash).
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"
use_scratch_and_redis_topology

# GET calls one node has served, from INFO commandstats (0 when it served none).
get_calls() {  # port
  REDISCLI_AUTH=$secret redis-cli -p "$1" --no-auth-warning INFO commandstats |
    sed -n 's/^cmdstat_get:calls=\([0-9]*\),.*/\1/p' | grep . || echo 0
}

# --- cluster: the JSON report, and traffic on every master
start_redis_topology cluster
url=$(topology_value url)
read -r -a masters <<<"$(topology_value masters)"
[ "${#masters[@]}" -eq 3 ] || fail "the launcher names 3 masters" "$(topology_value masters)"

run bench redis --mode cluster --url "$url" --concurrency 8 --duration 1 --pool-size 4 --json --quiet
expect_status 0 "cluster run"
jq -e '
  .backend == "redis" and .concurrency == 8 and .pool_size == 4 and .ops > 0 and .ops_per_sec > 0
  and ([.errors[]] | all(. == 0)) and .error_examples == {}
  and .connections_opened >= 3 and .connections_opened <= 12 and '"$bench_errors_shape" <<<"$out" >/dev/null ||
  fail "cluster JSON: operations, no errors, 1 to 4 connections per master" "$out"
expect_no_secret "cluster JSON report"
ops=$(jq -r '.ops' <<<"$out" 2>/dev/null)
total=0
for port in "${masters[@]}"; do
  calls=$(get_calls "$port")
  total=$((total + calls))
  # 1,024 keys over 3 masters: each holds about a third; a tenth is a generous floor.
  if ! [[ $ops =~ ^[0-9]+$ ]] || [ "$calls" -lt $((ops / 10)) ]; then
    fail "master on port $port served $calls of $ops GETs: every master must get its share" "$out"
  fi
done
[ "$total" -ge "${ops:-1}" ] || fail "the masters served $total GETs, fewer than the $ops reported" "$out"

# The async cluster client: N in flight from callbacks, then threads blocking; no errors, each
# master served its share, and batches of more than one command per write.
before=0
for port in "${masters[@]}"; do before=$((before + $(get_calls "$port"))); done
run bench redis --mode cluster --async --inflight 64 --url "$url" --duration 1 --json --quiet
expect_status 0 "async cluster run, 64 in flight"
jq -e '.ops > 0 and ([.errors[]] | all(. == 0)) and .batch_mean > 1 and .cpu_us_per_op > 0
  and .connections_opened == 6' <<<"$out" >/dev/null ||
  fail "async cluster JSON: operations, no errors, batches, 2 connections per master" "$out"
expect_no_secret "async cluster JSON report"
after=0
for port in "${masters[@]}"; do after=$((after + $(get_calls "$port"))); done
ops=$(jq -r '.ops' <<<"$out" 2>/dev/null)
[ $((after - before)) -ge "${ops:-1}" ] ||
  fail "the masters served $((after - before)) GETs, fewer than the $ops reported" "$out"
run bench redis --mode cluster --async --threads 8 --url "$url" --duration 0.5 --json --quiet
expect_status 0 "async cluster run, 8 threads"
jq -e '.ops > 0 and ([.errors[]] | all(. == 0))' <<<"$out" >/dev/null ||
  fail "async cluster JSON (threads): operations, no errors" "$out"

# REDIS_MODE from the environment, text report
run "REDIS_MODE=cluster" "REDIS_URL=$url" bench redis --concurrency 4 --duration 0.5 --quiet
expect_status 0 "REDIS_MODE=cluster run"
expect_output "pool size" "REDIS_MODE=cluster text report"
expect_no_secret "cluster text report"

run bench redis --mode cluster --url "$url" -c 2 -d 0.3 --no-reuse
expect_status 2 "--no-reuse in cluster mode"
expect_output "standalone mode only" "--no-reuse in cluster mode"
stop_redis_topology

# --- sentinel: the JSON report through the master the sentinels name
start_redis_topology sentinel
url=$(topology_value url)
master_port=$(topology_value master_port)
run "REDIS_SENTINEL_MASTER=$(topology_value master_name)" bench redis --mode sentinel --url "$url" \
  --concurrency 4 --duration 1 --pool-size 2 --json --quiet
expect_status 0 "sentinel run"
jq -e '
  .backend == "redis" and .concurrency == 4 and .pool_size == 2 and .ops > 0
  and ([.errors[]] | all(. == 0)) and .connections_opened >= 1 and .connections_opened <= 2
  and '"$bench_errors_shape" <<<"$out" >/dev/null ||
  fail "sentinel JSON: operations, no errors, at most 2 connections" "$out"
expect_no_secret "sentinel JSON report"
ops=$(jq -r '.ops' <<<"$out" 2>/dev/null)
calls=$(get_calls "$master_port")
[[ $ops =~ ^[0-9]+$ ]] && [ "$calls" -ge "$ops" ] ||
  fail "the master served $calls GETs, fewer than the $ops reported" "$out"

run "REDIS_MODE=sentinel" "REDIS_URL=$url" "REDIS_SENTINEL_MASTER=mymaster" \
  bench redis --concurrency 2 --duration 0.3 --quiet
expect_status 0 "REDIS_MODE=sentinel run"
expect_no_secret "sentinel text report"

# --- bad usage: exit 2, naming what is missing
run bench redis --mode sentinel --url "$url" -c 1 -d 0.3
expect_status 2 "sentinel mode without a master name"
expect_output "REDIS_SENTINEL_MASTER" "sentinel mode without a master name"
expect_no_secret "sentinel usage error"
run "REDIS_MODE=sentinel" "REDIS_URL=$url" bench redis -c 1 -d 0.3
expect_status 2 "REDIS_MODE=sentinel without a master name"
expect_output "REDIS_SENTINEL_MASTER" "REDIS_MODE=sentinel without a master name"
run "REDIS_SENTINEL_MASTER=nosuchmaster" bench redis --mode sentinel --url "$url" -c 1 -d 0.3
[ "$status" -ne 0 ] || fail "a master name no sentinel monitors fails the run" "$out"
expect_output "nosuchmaster" "a master name no sentinel monitors"
expect_no_secret "unknown master error"
run bench redis --mode ring --url "$url" -c 1 -d 0.3
expect_status 2 "an unknown --mode"

finish "bench redis cluster/sentinel"
