#!/usr/bin/env bash
# rediss:// through the CLI against a real redis-server listening TLS only, with a throw-away CA
# made here by the openssl CLI: `bench redis` and `check` work with the CA named (by the URL's
# ssl_ca_certs or REDIS_SSL_CA_CERTS), fail with a TlsError naming host:port and the cause when
# it is not, warn when verification is off, and never print the password.
# Usage: tls_redis.sh <poolkit binary> <repository root>. Never print the password (see
# helpers.bash).
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"
use_scratch_and_redis_server

# --- a CA, a server certificate for 127.0.0.1 and localhost, and an unrelated CA
# (scripts/lib/test_ca.sh); redis-server TLS only, on a free loopback port
# shellcheck source=../../scripts/lib/test_ca.sh
source "$root/scripts/lib/test_ca.sh"
make_test_ca "$scratch/ca" || exit 1
start_redis_server --tls "$scratch/ca" "$scratch" "requirepass $secret" || exit 1

base="rediss://:${secret}@127.0.0.1:${redis_port}/0"
url="$base?ssl_ca_certs=$scratch/ca/ca.pem"

# --- bench over TLS, pooled and re-created, CA in the URL
run bench redis --url "$url" --concurrency 2 --duration 0.5 --json --quiet
expect_status 0 "pooled rediss:// bench"
jq -e '.ops > 0 and ([.errors[]] | all(. == 0)) and .connections_opened <= 2' <<<"$out" >/dev/null ||
  fail "pooled rediss:// bench: operations, no errors, at most 2 connections" "$out"
[[ $out == *"rediss://:****@127.0.0.1:${redis_port}/0"* ]] || fail "the report masks only the password" "$out"
expect_no_secret "pooled rediss:// bench"

run bench redis --url "$url" --concurrency 2 --duration 0.5 --no-reuse --json --quiet
expect_status 0 "--no-reuse rediss:// bench"
jq -e '.reuse == false and .ops > 0 and .connections_opened >= .ops' <<<"$out" >/dev/null ||
  fail "--no-reuse over TLS opens a connection per operation" "$out"

# --- the CA from REDIS_SSL_CA_CERTS, through check
run "REDIS_URL=$base" "REDIS_SSL_CA_CERTS=$scratch/ca/ca.pem" check --only redis
expect_status 0 "check over TLS with REDIS_SSL_CA_CERTS"
expect_no_secret "check over TLS"

# --- the wrong CA: a TlsError naming host:port, the cause and the setting; exit 1
run "REDIS_URL=$base" "REDIS_SSL_CA_CERTS=$scratch/ca/other-ca.pem" check --only redis
expect_status 1 "check with a CA that did not sign the server's certificate"
expect_output "TLS to 127.0.0.1:${redis_port} failed" "unknown issuer in check"
expect_output "REDIS_SSL_CA_CERTS" "unknown issuer in check"
expect_no_secret "unknown issuer in check"

run bench redis --url "$base?ssl_ca_certs=$scratch/ca/other-ca.pem" --concurrency 1 --duration 0.3
[ "$status" -ne 0 ] || fail "bench with the wrong CA exits non-zero" "$out"
expect_output "TLS to 127.0.0.1:${redis_port} failed" "unknown issuer in bench"
expect_no_secret "unknown issuer in bench"

# --- verification off works, and is warned about
run "REDIS_URL=$base" "REDIS_SSL_CERT_REQS=none" check --only redis
expect_status 0 "check with REDIS_SSL_CERT_REQS=none"
expect_output "REDIS_SSL_CERT_REQS" "check warns that verification is off"

run "REDIS_URL=$base?ssl_cert_reqs=none" check --only redis
expect_status 0 "check with ?ssl_cert_reqs=none in the URL"
expect_output "ssl_cert_reqs=none: certificate verification is off" "check warns about the URL's ssl_cert_reqs=none"
run "REDIS_URL=$base?ssl_cert_reqs=none" config
expect_output "ssl_cert_reqs=none: certificate verification is off" "config warns about the URL's ssl_cert_reqs=none"
expect_no_secret "the warning about the URL's ssl_cert_reqs=none"

# --- a CA file that does not exist: exit 2 from config, check and bench alike
for command in config check; do
  run "REDIS_URL=$base?ssl_ca_certs=/nonexistent/ca.pem" "$command"
  expect_status 2 "$command with ssl_ca_certs naming a missing file"
  expect_output "ssl_ca_certs" "$command with ssl_ca_certs naming a missing file"
  expect_no_secret "$command with a missing CA file"
done

finish "tls_redis.sh"
