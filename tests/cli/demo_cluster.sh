#!/usr/bin/env bash
# `poolkit demo --cluster` and `--sentinel` (short runs): each starts its own 6-node Redis
# Cluster (or master, replica and 3 sentinels), kills a master under load, and reports a 250 ms
# time chart with the kill and the recovery marked, the error burst, a recovery time, and no
# counter above its INCRs (none ran twice) and at most a few below (Redis' asynchronous
# replication may drop the last acknowledged writes); it leaves no server behind. Bad
# combinations exit 2.
# Usage: demo_cluster.sh <poolkit binary> <repository root>.
#
# TMPDIR is a private folder: the cluster's nodes keep their scratch folders (and so their
# command lines) there, which tells exactly which processes are the demo's.
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"

scratch=$(mktemp -d)
demo_tmp="$scratch/tmp"
mkdir -p "$demo_tmp"
trap 'pkill -9 -f "$demo_tmp" 2>/dev/null; rm -rf "$scratch"' EXIT

# check_failover_report TOPOLOGY: the checks on $out of `poolkit demo --TOPOLOGY --duration 8`.
check_failover_report() {
  expect_output "poolkit demo --$1: a master killed under load" "$1: the report's title"
  expect_output "per 250 ms:" "$1: the time chart"
  expect_output "killed at" "$1: the kill in the header"
  expect_output "<- master 127.0.0.1:" "$1: the kill marked on the chart"
  expect_output "<- recovered (>= 90% of before)" "$1: the recovery marked on the chart"
  # Redis replicates asynchronously: the INCRs the master acknowledged in its last moment may not
  # have reached the replica. That window is a few writes, not a burst.
  lost=$(sed -n 's/^  lost writes  *\([0-9]*\).*/\1/p' <<<"$out")
  [[ $lost =~ ^[0-9]+$ ]] && [ "$lost" -le 8 ] || fail "at most a few acknowledged INCRs lost, got '$lost'" "$out"
  expect_output "doubled writes    0" "$1: no INCR applied twice"

  # 8 s in 250 ms buckets: a chart line each, time, ops, errors.
  buckets=$(grep -c -E '^ +[0-9]+\.[0-9]{2} +[0-9]+ +[0-9]+' <<<"$out")
  [ "$buckets" -eq 32 ] || fail "32 chart lines for 8 s, found $buckets" "$out"
  # Every counter was checked, and each is exact or above only by INCRs that failed.
  if ! grep -q -E '^  counters +[0-9]+ of 1024 equal' <<<"$out"; then
    fail "the counters' line covers all 1024 counters" "$out"
  fi
  # Recovery within the run, in a plausible time: after the ~2 s election, well before the end.
  recovery=$(sed -n 's/^  recovery  *\([0-9.]*\) s from the kill.*/\1/p' <<<"$out")
  if [ -z "$recovery" ] || ! awk -v r="$recovery" 'BEGIN { exit !(r > 0.5 && r < 5.5) }'; then
    fail "a recovery time between 0.5 s and 5.5 s, got '${recovery}'" "$out"
  fi
  # The burst: errors counted by kind, first and last times, and before the kill nothing failed.
  expect_output "error burst       first at" "$1: the error burst"
  first_error=$(sed -n 's/^  error burst  *first at \([0-9.]*\) s.*/\1/p' <<<"$out")
  killed_at=$(sed -n 's/.*killed at \([0-9.]*\) s.*/\1/p' <<<"$out" | head -1)
  if [ -z "$first_error" ] || [ -z "$killed_at" ] ||
    ! awk -v e="$first_error" -v k="$killed_at" 'BEGIN { exit !(e >= k) }'; then
    fail "the first error ($first_error s) comes after the kill ($killed_at s)" "$out"
  fi
  # The seed URL in the header is redacted (the demo's password is its own, random).
  grep -q -E 'redis://:\*\*\*\*@127\.0\.0\.1:' <<<"$out" || fail "the redacted seed URL" "$out"
  expect_no_secret "demo --$1"
  if pgrep -f "$demo_tmp" >/dev/null; then fail "redis-server processes left behind" "$(pgrep -af "$demo_tmp")"; fi
}

for topology in cluster sentinel; do
  run "TMPDIR=$demo_tmp" demo --"$topology" --duration 8 --concurrency 8
  expect_status 0 "demo --$topology"
  check_failover_report "$topology"
done

run demo --cluster --duration 2
expect_status 2 "--cluster with a run too short for an election"
expect_output "at least 5 s" "--cluster with a run too short"
run demo --cluster --only redis
expect_status 2 "--cluster with --only"
run demo --cluster --sentinel
expect_status 2 "--cluster with --sentinel"

finish "demo --cluster and --sentinel"
