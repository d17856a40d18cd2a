#!/usr/bin/env bash
# `poolkit config`: exit statuses, JSON output, ./.env discovery, and that the test password
# never appears in anything it prints. Usage: config.sh <poolkit binary> <repository root>
#
# Never print a command line or output that could hold the password: this script's output is
# scanned for it afterwards. Failure messages show output with the password replaced.
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# run, from another directory.
run_in() {
  local directory=$1
  shift
  pushd "$directory" >/dev/null || exit 1
  run "$@"
  popd >/dev/null || exit 1
}

# Validates $out as one JSON object of the documented shape, for which the jq expression
# given must also be true.
expect_json() {  # jq-expression description
  local shape='type == "object" and has("profile") and has("settings") and has("warnings")
    and has("errors") and (.settings | all(has("name") and has("value") and has("source")
    and has("default") and has("recommended")))'
  printf '%s' "$out" | jq -e "($shape) and (${1:-true})" >/dev/null 2>&1 ||
    fail "$2: JSON output is not as expected" "$out"
}

cd "$root" || exit 1

# --- the examples are valid ------------------------------------------------------------------
for profile in dev staging production; do
  run config --env-file "examples/$profile.env"
  expect_status 0 "examples/$profile.env"
  expect_output "reading examples/$profile.env" "examples/$profile.env"
  expect_output "configuration is valid" "examples/$profile.env"
  expect_output "pool size ≈" "examples/$profile.env (rule of thumb)"
  expect_output "redis://" "examples/$profile.env"

  run config --env-file "examples/$profile.env" --json
  expect_status 0 "examples/$profile.env --json"
  expect_json ".profile == \"$profile\" and .errors == []
    and ([.settings[].name] | index(\"MONGODB_MAX_POOL_SIZE\") and index(\"REQUESTS_RETRY_BACKOFF\"))
    and (.settings[] | select(.name == \"REDIS_URL\") | .source | startswith(\"examples/$profile.env:\"))" \
    "examples/$profile.env --json"
done
run config --env-file examples/dev.env
if grep -q "^warnings" <<<"$out"; then fail "dev profile values must not be warned about" "$out"; fi

# --- a bad env file --------------------------------------------------------------------------
printf 'REDIS_MAX_CONNECTIONS=10x\nMONGODB_MIN_POOL_SIZE=-1\n' >"$scratch/bad.env"
run config --env-file "$scratch/bad.env"
expect_status 2 "bad env file"
expect_output 'REDIS_MAX_CONNECTIONS="10x": expected a whole number from 1 to 100000' "bad env file"
expect_output "bad.env:1" "bad env file"
expect_output 'MONGODB_MIN_POOL_SIZE="-1"' "bad env file"
run config --env-file "$scratch/bad.env" --json
expect_status 2 "bad env file --json"
expect_json '[.errors[].name] | unique == ["MONGODB_MIN_POOL_SIZE", "REDIS_MAX_CONNECTIONS"]' \
  "bad env file --json"

printf 'REDIS_URL=redis://127.0.0.1/0\nthis line is broken\n' >"$scratch/malformed.env"
run config --env-file "$scratch/malformed.env"
expect_status 2 "malformed env file"
expect_output "malformed.env:2:" "malformed env file"

run config --env-file "$scratch/missing.env"
expect_status 2 "missing env file"
expect_output "missing.env" "missing env file"

# --- a value outside the recommended range is only a warning ---------------------------------
run MONGODB_MAX_POOL_SIZE=500 config
expect_status 0 "out-of-range value"
expect_output "outside the recommended range 50–200" "out-of-range value"

# --- the password never appears --------------------------------------------------------------
secret_cases=(
  "MONGODB_URL=mongodb://app:${secret}@127.0.0.1:27017/app"
  "MONGODB_URL=mongodb://app:${secret}@127.0.0.1:99999/app"
  "MONGODB_URL=mongodb://app:${secret}@127.0.0.1/app?waitQueueMultiple=3"
  "MONGODB_URL=mongodb://app:${secret}/app"
  "REDIS_URL=redis://app:${secret}@127.0.0.1:6379/0"
  "REDIS_URL=redis://127.0.0.1:6379/0?password=${secret}"
  "REDIS_URL=redis://app:${secret}@127.0.0.1:abc/0"
  "REDIS_URL=${secret}"
)
for case in "${secret_cases[@]}"; do
  name=${case%%=*}
  for format in text json; do
    args=(config)
    [ "$format" = json ] && args+=(--json)
    run "$case" "${args[@]}"
    expect_no_secret "$name ($format)"
    expect_output "$name" "$name ($format)"
    [ "$format" = json ] && expect_json "" "$name (json)"
  done
done
run "MONGODB_URL=mongodb://app:${secret}@127.0.0.1:27017/app" config
expect_status 0 "valid MongoDB URL with a password"
expect_output "mongodb://app:****@127.0.0.1:27017/app" "valid MongoDB URL with a password"
run "MONGODB_URL=mongodb://app:${secret}@127.0.0.1:99999/app" config
expect_status 2 "MongoDB URL with a bad port"
expect_output "port must be a whole number from 1 to 65535" "MongoDB URL with a bad port"

printf 'REDIS_URL="redis://app:%s@127.0.0.1/0\n%s\nMONGODB_URL=mongodb://app:%s@h:0/x\n' \
  "$secret" "$secret" "$secret" >"$scratch/secret.env"
for format in text json; do
  args=(config --env-file "$scratch/secret.env")
  [ "$format" = json ] && args+=(--json)
  run "${args[@]}"
  expect_status 2 "env file with the password on malformed lines ($format)"
  expect_no_secret "env file with the password on malformed lines ($format)"
done

# --- ./.env discovery ------------------------------------------------------------------------
mkdir -p "$scratch/with-env" "$scratch/without-env"
printf 'REDIS_MAX_CONNECTIONS=77\n' >"$scratch/with-env/.env"
run_in "$scratch/with-env" config
expect_status 0 "./.env discovery"
expect_output "reading ./.env" "./.env discovery"
expect_output "./.env:1" "./.env discovery"
run_in "$scratch/without-env" config
expect_status 0 "no ./.env"
expect_output "no ./.env found" "no ./.env"

# --- the command line ------------------------------------------------------------------------
run config --bogus
expect_status 2 "unknown option"
run
expect_status 2 "no subcommand"
run config --profile prod
expect_status 2 "unknown profile"
expect_output 'POOLKIT_PROFILE="prod"' "unknown profile"
run config --profile dev --json
expect_status 0 "--profile dev"
expect_json '.profile == "dev"
  and (.settings[] | select(.name == "AIOHTTP_POOL_LIMIT") | .source) == "profile:dev"' \
  "--profile dev"
run config --help
expect_status 0 "--help"

# --- the reference in docs/ is what the table generates --------------------------------------
run config --markdown
expect_status 0 "--markdown"
if ! diff -q <(printf '%s\n' "$out") <(cat docs/configuration.md) >/dev/null; then
  fail "docs/configuration.md differs from 'poolkit config --markdown'"
fi

if [ "$failures" -gt 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "config.sh: all checks passed"
