# Helpers shared by the CLI tests (sourced, not run: ctest runs only tests/cli/*.sh). Each test
# sources it first, with its own arguments:
#
#   set -uo pipefail
#   source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"   # <poolkit binary> <repository root>
#
# which sets $bin (the poolkit binary), $root (the repository), $build_dir (the build it belongs
# to), $secret (POOLKIT_TEST_SECRET) and failures=0.
#
# Never print a command line or output that could hold the password: the test output is
# scanned for it afterwards. Failure messages show output with the password replaced.

bin=$(realpath "$1")
root=$(realpath "${2:-$(dirname "${BASH_SOURCE[0]}")/../..}")
build_dir=$(realpath "$(dirname "$bin")/../..")
secret=${POOLKIT_TEST_SECRET:?POOLKIT_TEST_SECRET must be set}
failures=0
# shellcheck source=../../scripts/lib/redis_server.sh
source "$root/scripts/lib/redis_server.sh"

scrub() { sed "s/${secret}/<SECRET>/g"; }

fail() {
  echo "FAIL: $1" >&2
  if [ -n "${2:-}" ]; then printf '%s\n' "$2" | scrub | head -40 | sed 's/^/    /' >&2; fi
  failures=$((failures + 1))
}

# Runs poolkit in a clean environment (plus the VAR=value words given before the arguments),
# from the current directory. Sets $out (stdout and stderr) and $status.
run() {
  split_assignments "$@"
  out=$(env -i PATH="$PATH" "${assignments[@]}" "$bin" "${arguments[@]}" 2>&1)
  status=$?
}

# The same, keeping the streams apart: $out (stdout), $err (stderr) and $status.
run_split() {
  split_assignments "$@"
  local err_file
  err_file=$(mktemp)
  out=$(env -i PATH="$PATH" "${assignments[@]}" "$bin" "${arguments[@]}" 2>"$err_file")
  status=$?
  err=$(cat "$err_file")
  rm -f "$err_file"
}

# The leading VAR=value words into $assignments, the rest into $arguments.
split_assignments() {
  assignments=()
  while [ $# -gt 0 ] && [[ $1 == *=* ]]; do
    assignments+=("$1")
    shift
  done
  arguments=("$@")
}

expect_status() {  # expected-status description
  [ "$status" -eq "$1" ] || fail "$2: exit status $status, expected $1" "$out"
}

expect_output() {  # text description
  grep -q -F -- "$1" <<<"$out" || fail "$2: output lacks '$1'" "$out"
}

expect_no_secret() {  # description
  if grep -q -F -- "$secret" <<<"$out"; then fail "$1: output contains the test password" "$out"; fi
}

# A scratch folder ($scratch) and room for one redis-server (start_redis_server "$scratch" …,
# scripts/lib/redis_server.sh), both gone when the script exits, however it exits.
use_scratch_and_redis_server() {
  scratch=$(mktemp -d)
  trap 'stop_redis_server; rm -rf "$scratch"' EXIT
}

# A paced bench (--rate R --duration D) makes about R*D operations: not R/N or R/N² (a pacing
# bug once divided the rate by the concurrency squared), and not more than it was told to.
# $out holds the bench's JSON report.
expect_paced_ops() {  # rate duration description
  local ops expected
  ops=$(jq -r '.ops' <<<"$out" 2>/dev/null)
  expected=$(($1 * $2))
  if ! [[ $ops =~ ^[0-9]+$ ]] || [ "$ops" -lt $((expected * 6 / 10)) ] ||
    [ "$ops" -gt $((expected * 11 / 10 + 8)) ]; then
    fail "$3: a paced run of $1/s for $2 s made ${ops:-no} operations, expected about $expected" "$out"
  fi
}

# jq condition on a bench JSON report: every error kind the bench knows has its count, and
# error_examples holds a message for exactly the kinds that occurred.
# shellcheck disable=SC2034  # used by the scripts that source this file
bench_errors_shape='(.errors | has("timeout") and has("connect") and has("tls") and has("pool_timeout")
    and has("server") and has("circuit_open") and has("protocol") and has("other"))
  and (.error_examples | type == "object")
  and ([.errors | to_entries[] | select(.value > 0) | .key] | sort)
      == (.error_examples | keys | sort)
  and ([.error_examples[] | type == "string" and length > 0] | all)'

# finish NAME: exit status 1 when a check failed.
finish() {
  if [ "$failures" -gt 0 ]; then
    echo "$failures check(s) failed" >&2
    exit 1
  fi
  echo "$1: all checks passed"
}

# Starts tools/local_servers' poolkit-redis-topology (a 6-node cluster or a Sentinel set, with
# the test password) in the background and waits for its ready file; `topology_value KEY` then
# reads it (url=, masters=, master_name=, ...: see the launcher's comment). Needs $scratch;
# stop_redis_topology (run on exit by use_scratch_and_redis_topology) stops every server.
use_scratch_and_redis_topology() {
  scratch=$(mktemp -d)
  topology_pid=
  trap 'stop_redis_topology; rm -rf "$scratch"' EXIT
}

start_redis_topology() {  # cluster|sentinel
  local launcher=${POOLKIT_REDIS_TOPOLOGY:-$build_dir/tools/local_servers/poolkit-redis-topology}
  [ -x "$launcher" ] || { echo "FAIL: no launcher at $launcher (build poolkit_redis_topology)" >&2; exit 1; }
  topology_file="$scratch/$1.ready"
  "$launcher" "$1" "$topology_file" --password-env POOLKIT_TEST_SECRET --max-seconds 600 \
    >"$scratch/$1.log" 2>&1 &
  topology_pid=$!
  for _ in $(seq 1 600); do
    [ -f "$topology_file" ] && return 0
    kill -0 "$topology_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: the $1 did not start:" >&2
  scrub <"$scratch/$1.log" | tail -20 >&2
  exit 1
}

topology_value() {  # key
  sed -n "s/^$1=//p" "$topology_file"
}

stop_redis_topology() {
  if [ -n "${topology_pid:-}" ]; then kill -TERM "$topology_pid" 2>/dev/null; wait "$topology_pid" 2>/dev/null; fi
  topology_pid=
}
