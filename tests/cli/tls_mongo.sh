#!/usr/bin/env bash
# MongoDB over TLS through the CLI, against FerretDB's TLS listener with a throw-away CA
# (scripts/test-ca): `config` shows the URL masked, refuses a TLS file it cannot use (exit 2)
# and warns when verification is off; `check` and `bench mongo` work over TLS, and a server
# certificate from another CA is a TLS error naming the server and the cause (exit 1). The test
# password (as tlsCertificateKeyFilePassword) never appears.
# Usage: tls_mongo.sh <poolkit binary> <repository root>
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"

launcher="$build_dir/ferretdb-launcher/ferretdb-launcher"
if [ ! -x "$launcher" ]; then
  echo "SKIP: no FerretDB launcher at $launcher (Go missing at configure time)"
  exit 0
fi
command -v openssl >/dev/null || {
  echo "SKIP: no openssl CLI to make a test CA"
  exit 0
}

scratch=$(mktemp -d)
export POOLKIT_FERRETDB_RUN_DIR="$scratch/run" POOLKIT_FERRETDB_LAUNCHER="$launcher"
trap '"$root/scripts/ferretdb" stop >/dev/null 2>&1; rm -rf "$scratch"' EXIT

"$root/scripts/test-ca" "$scratch/ca" || {
  echo "FAIL: scripts/test-ca did not make a CA" >&2
  exit 1
}
"$root/scripts/test-ca" "$scratch/other" >/dev/null
tls_url=$("$root/scripts/ferretdb" start 0 --tls-cert "$scratch/ca/server.pem" \
  --tls-key "$scratch/ca/server.key") || {
  echo "FAIL: FerretDB did not start with TLS" >&2
  exit 1
}
[[ $tls_url == *"?tls=true" ]] || fail "the launcher's URL does not say tls=true" "$tls_url"
host=${tls_url#mongodb://}
host=${host%%/*}
url="$tls_url&tlsCAFile=$scratch/ca/ca.pem"
other_ca_url="$tls_url&tlsCAFile=$scratch/other/ca.pem"

# config: the URL is shown with the key file's password masked.
run MONGODB_URL="$url&tlsCertificateKeyFile=$scratch/ca/client-combined.pem&tlsCertificateKeyFilePassword=$secret" \
  config --json
expect_status 0 "config with the TLS options"
expect_no_secret "config --json"
expect_output "tlsCertificateKeyFilePassword=****" "config --json"
expect_output "tlsCAFile=$scratch/ca/ca.pem" "config --json"

# config: a TLS file it cannot use is an error naming the option and the path.
run MONGODB_URL="$tls_url&tlsCAFile=$scratch/missing.pem" config
expect_status 2 "config with a missing tlsCAFile"
expect_output "MONGODB_URL" "config with a missing tlsCAFile"
expect_output "tlsCAFile $scratch/missing.pem: no such file" "config with a missing tlsCAFile"
run MONGODB_URL="$url&tlsCertificateKeyFile=$scratch/ca/client.key" config
expect_status 2 "config with a key as tlsCertificateKeyFile"
expect_output "tlsCertificateKeyFile $scratch/ca/client.key" "config with a key as tlsCertificateKeyFile"

# config and check: verification turned off works, with a warning on every run.
run MONGODB_URL="$other_ca_url&tlsAllowInvalidCertificates=true" config
expect_status 0 "config with tlsAllowInvalidCertificates=true"
expect_output "tlsAllowInvalidCertificates=true" "config warning"
run MONGODB_URL="$other_ca_url&tlsInsecure=true" check
expect_status 0 "check with tlsInsecure=true"
expect_output "tlsInsecure=true" "check warning"

# check over TLS: healthy, and nothing on stderr.
run_split MONGODB_URL="$url" check
[ "$status" -eq 0 ] || fail "check over TLS exited $status" "$out$err"
[[ $out == *"mongo "*"ok"* ]] || fail "check over TLS does not say ok" "$out"
[ -z "$err" ] || fail "a healthy check over TLS printed on stderr" "$err"

# check against a server whose CA is not the one named: a TLS error with host and cause, fast.
started=$(date +%s%N)
run MONGODB_URL="$other_ca_url&tlsCertificateKeyFilePassword=$secret" check
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
expect_status 1 "check with another CA"
expect_output "TLS to $host failed: unknown issuer" "check with another CA"
expect_output "tlsCAFile (now $scratch/other/ca.pem)" "check with another CA"
expect_no_secret "check with another CA"
[ "$elapsed_ms" -lt 2500 ] || fail "check with another CA took $elapsed_ms ms (one scan should do)"

# bench over TLS: pooled and --no-reuse, no errors.
run_split MONGODB_URL="$url" bench mongo -c 4 --pool-size 4 -d 1 --quiet --json
if [ "$status" -ne 0 ]; then
  fail "bench over TLS exited $status" "$out$err"
else
  echo "$out" | jq -e '.ops > 0 and ([.errors[]] | add) == 0 and .connections_opened <= 4' \
    >/dev/null || fail "bench over TLS: wrong JSON" "$out"
fi
run_split MONGODB_URL="$url" bench mongo -c 2 -d 1 --quiet --json --no-reuse
if [ "$status" -ne 0 ]; then
  fail "bench --no-reuse over TLS exited $status" "$out$err"
else
  echo "$out" | jq -e '.ops > 0 and ([.errors[]] | add) == 0 and .connections_opened >= .ops' \
    >/dev/null || fail "bench --no-reuse over TLS: wrong JSON" "$out"
fi

# bench against the wrong CA: nothing succeeds, exit 1, and the TLS error is shown.
run MONGODB_URL="$other_ca_url" MONGODB_SERVER_SELECTION_TIMEOUT_MS=500 bench mongo -c 1 -d 1
expect_status 1 "bench with another CA"
expect_output "TLS to $host failed: unknown issuer" "bench with another CA"

finish tls_mongo.sh
