#!/usr/bin/env bash
# Hostile settings input (issue 10): env files that are not files or never end, values of a
# megabyte, URLs that check and bench refuse, layers named in --only that are not configured,
# names people mistype. Every case needs no server: each must fail (or warn) before any
# connection is tried. Usage: settings_input.sh <poolkit binary> <repository root>
#
# Never print a command line or output that could hold the password: this script's output is
# scanned for it afterwards. Failure messages show output with the password replaced.
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"

scratch=$(mktemp -d)
writer_pid=
cleanup() {
  if [ -n "$writer_pid" ]; then kill "$writer_pid" 2>/dev/null; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

cd "$root" || exit 1

# A sanitizer build reserves terabytes of address space and cannot start under a memory limit:
# then only time is bounded.
memory_limit_works=false
if (ulimit -v 4000000 && "$bin" --help >/dev/null 2>&1); then memory_limit_works=true; fi

# Runs poolkit like run, with a bound on time (seconds) and on memory (virtual, KiB): a command
# that reads without a bound is killed (status 137 or 124), which fails the status checks.
run_bounded() {  # seconds kib args...
  local seconds=$1 kib=$2
  shift 2
  "$memory_limit_works" || kib=unlimited
  split_assignments "$@"
  out=$( (ulimit -v "$kib" && env -i PATH="$PATH" "${assignments[@]}" \
    timeout "$seconds" "$bin" "${arguments[@]}") 2>&1)
  status=$?
}

expect_short_output() {  # max-bytes description
  [ "${#out}" -le "$1" ] || fail "$2: ${#out} bytes of output, expected at most $1" "${out:0:2000}"
}

# --- env files that are not files, or never end ---------------------------------------------
run_bounded 20 1000000 config --env-file /dev/zero
expect_status 2 "/dev/zero"
expect_output "/dev/zero: cannot read the env file: it is a device, not a file" "/dev/zero"

run_bounded 20 1000000 config --env-file "$scratch"
expect_status 2 "a directory"
expect_output "it is a directory" "a directory"

mkfifo "$scratch/endless.env"
yes 'REDIS_MAX_CONNECTIONS=10' >"$scratch/endless.env" 2>/dev/null &
writer_pid=$!
run_bounded 20 1000000 config --env-file "$scratch/endless.env"
expect_status 2 "an endless pipe"
expect_output "larger than the limit of 1048576 bytes (1 MiB)" "an endless pipe"
kill "$writer_pid" 2>/dev/null
wait "$writer_pid" 2>/dev/null
writer_pid=

run_bounded 20 1000000 config --env-file <(printf 'REDIS_MAX_CONNECTIONS=77\n')
expect_status 0 "process substitution is read like a file"
expect_output "REDIS_MAX_CONNECTIONS" "process substitution is read like a file"

head -c 2000000 /dev/zero | tr '\0' 'x' >"$scratch/big.env"
run_bounded 20 1000000 config --env-file "$scratch/big.env"
expect_status 2 "a 2 MB file"
expect_output "larger than the limit" "a 2 MB file"

{
  printf 'MONGODB_APPNAME='
  head -c 70000 /dev/zero | tr '\0' 'a'
  printf '\nREDIS_MAX_CONNECTIONS=10\n'
} >"$scratch/long-line.env"
run config --env-file "$scratch/long-line.env"
expect_status 2 "a line over 64 KiB"
expect_output "long-line.env:1: the line is 70016 bytes long, over the limit of 65536 bytes" \
  "a line over 64 KiB"

# --- a value of 60 kB (the longest line is 64 KiB) stays a short row and a short error -------------------------------
big=$(head -c 60000 /dev/zero | tr '\0' '7')
for name in REDIS_MAX_CONNECTIONS MONGODB_APPNAME POOLKIT_PROFILE; do
  printf '%s=%s\n' "$name" "$big" >"$scratch/value.env"
  run config --env-file "$scratch/value.env"
  expect_status 2 "$name of 60000 bytes"
  expect_short_output 12000 "$name of 60000 bytes"
  expect_output "$name=\"7777777777777777777777777777777777777777\"… (60000 bytes)" \
    "$name of 60000 bytes (error)"
  expect_output "7777777777777777777777777777777777777777… (60000 bytes)" \
    "$name of 60000 bytes (table)"
  run config --env-file "$scratch/value.env" --json
  expect_status 2 "$name of 60000 bytes (--json)"
  expect_short_output 20000 "$name of 60000 bytes (--json)"
  printf '%s' "$out" | jq -e . >/dev/null 2>&1 || fail "$name (--json): not JSON" "${out:0:2000}"
done

# From the environment a value may be longer (up to 128 KiB on Linux).
huge=$(head -c 120000 /dev/zero | tr '\0' '7')
run "REDIS_MAX_CONNECTIONS=$huge" config
expect_status 2 "REDIS_MAX_CONNECTIONS of 120000 bytes in the environment"
expect_short_output 12000 "REDIS_MAX_CONNECTIONS of 120000 bytes in the environment"
expect_output '"7777777777777777777777777777777777777777"… (120000 bytes)' \
  "REDIS_MAX_CONNECTIONS of 120000 bytes in the environment"
run "REDIS_MAX_CONNECTIONS=$huge" check
expect_status 2 "check: REDIS_MAX_CONNECTIONS of 120000 bytes"
expect_short_output 2000 "check: REDIS_MAX_CONNECTIONS of 120000 bytes"

# --- config, check and bench refuse the same URLs, all with status 2 -------------------------
refused=(
  "REDIS_URL=rediss://127.0.0.1:1/0?ssl_cert_reqs=maybe|its option ssl_cert_reqs is"
  "REDIS_URL=rediss://127.0.0.1:1/0?ssl_ca_certs=/nonexistent/ca.pem|its option ssl_ca_certs"
  "REDIS_URL=redis://127.0.0.1:1/0?db=-1|the database must be a whole number"
  "REDIS_URL=redis://app@127.0.0.1:1/0|names a user but no password"
  "REDIS_URL=unix:///tmp/$(printf 's%.0s' {1..120}).sock|over the system's limit of 107 bytes"
  "MONGODB_URL=mongodb://127.0.0.1:1/app?maxpoolsize=abc|libmongoc refuses it"
)
for case in "${refused[@]}"; do
  assignment=${case%%|*}
  reason=${case#*|}
  name=${assignment%%=*}
  layer=redis
  [ "$name" = MONGODB_URL ] && layer=mongo
  run "$assignment" config
  expect_status 2 "config: $assignment"
  expect_output "$reason" "config: $assignment"
  run "$assignment" config --json
  expect_status 2 "config --json: $assignment"
  run_bounded 30 4000000 "$assignment" check --only "$layer"
  expect_status 2 "check: $assignment"
  expect_output "$reason" "check: $assignment"
  run_bounded 30 4000000 "$assignment" bench "$layer" --duration 0.2 --concurrency 1
  expect_status 2 "bench: $assignment"
  expect_output "$reason" "bench: $assignment"
done

run "REDIS_URL=redis://app:${secret}@127.0.0.1:1/0?db=-1" check --only redis
expect_status 2 "check: a bad database next to a password"
expect_no_secret "check: a bad database next to a password"

run "MONGODB_URL=mongodb://%2Ftmp%2Fmongodb-27017.sock/app" config
expect_status 0 "a MongoDB socket path written as a host"

# --- a layer named in --only must be configured ----------------------------------------------
run check --only redis
expect_status 2 "check --only redis without REDIS_URL"
expect_output "the redis layer is not configured" "check --only redis without REDIS_URL"
expect_output "REDIS_URL is not set" "check --only redis without REDIS_URL"
run check --only mongo,http
expect_status 2 "check --only mongo without MONGODB_URL"
expect_output "MONGODB_URL is not set" "check --only mongo without MONGODB_URL"
run check --only http
expect_status 0 "check --only http needs no variable"

# --- names people mistype, and metrics for everyone ------------------------------------------
for pair in MONGO_URL:MONGODB_URL MONGODB_URI:MONGODB_URL REDIS_URI:REDIS_URL \
  REQUEST_TIMEOUT:REQUESTS_TIMEOUT AIOHTTP_TIMEOUT:AIOHTTP_TIMEOUT_TOTAL \
  REDIS_TIMEOUT:REDIS_SOCKET_TIMEOUT; do
  alias=${pair%%:*}
  meant=${pair#*:}
  run "$alias=1" config
  expect_status 0 "$alias"
  expect_output "$alias is not a poolkit variable and is ignored; did you mean $meant" "$alias"
done

for address in 0.0.0.0:9464 '[::]:9464'; do
  run "POOLKIT_METRICS_ADDR=$address" config
  expect_status 0 "metrics on $address"
  expect_output "reachable from other machines" "metrics on $address"
done
run "POOLKIT_METRICS_ADDR=127.0.0.1:9464" config
if grep -q "reachable from other machines" <<<"$out"; then
  fail "metrics on 127.0.0.1 must not be warned about" "$out"
fi

finish "settings_input.sh"
