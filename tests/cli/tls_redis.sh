#!/usr/bin/env bash
# rediss:// through the CLI against a real redis-server listening TLS only, with a throw-away CA
# made here by the openssl CLI: `bench redis` and `check` work with the CA named (by the URL's
# ssl_ca_certs or REDIS_SSL_CA_CERTS), fail with a TlsError naming host:port and the cause when
# it is not, warn when verification is off, and never print the password.
# Usage: tls_redis.sh <poolkit binary> <repository root>. Never print the password (see
# helpers.bash).
set -uo pipefail

bin=$(realpath "$1")
secret=${POOLKIT_TEST_SECRET:?POOLKIT_TEST_SECRET must be set}
failures=0

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash"
use_scratch_and_redis_server

# --- a CA, a server certificate for 127.0.0.1 and localhost, and an unrelated CA (1 day)
make_ca() {  # name
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=poolkit test $1" \
    -keyout "$scratch/$1.key" -out "$scratch/$1.pem" 2>/dev/null
}
make_ca ca && make_ca other-ca || { echo "FAIL: openssl could not make the test CAs" >&2; exit 1; }
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$scratch/server.key" \
  -out "$scratch/server.csr" 2>/dev/null &&
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$scratch/san.ext" &&
  openssl x509 -req -in "$scratch/server.csr" -CA "$scratch/ca.pem" -CAkey "$scratch/ca.key" \
    -CAcreateserial -days 1 -extfile "$scratch/san.ext" -out "$scratch/server.pem" 2>/dev/null ||
  { echo "FAIL: openssl could not sign the server certificate" >&2; exit 1; }

# TLS only (port 0 turns the plain-text port off), on a free loopback port (a few random tries).
start_tls_server() {
  for _ in $(seq 1 20); do
    tls_port=$((20000 + RANDOM % 40000))
    printf 'port 0\ntls-port %s\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
      "$tls_port" "$scratch" "$secret" >"$scratch/redis.conf"
    printf 'tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\n' \
      "$scratch/server.pem" "$scratch/server.key" "$scratch/ca.pem" >>"$scratch/redis.conf"
    chmod 600 "$scratch/redis.conf"
    redis-server "$scratch/redis.conf" >"$scratch/redis.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$tls_port") 2>/dev/null; then return 0; fi
      if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
      sleep 0.1
    done
    stop_redis_server
  done
  echo "FAIL: could not start redis-server with TLS" >&2
  exit 1
}
start_tls_server

base="rediss://:${secret}@127.0.0.1:${tls_port}/0"
url="$base?ssl_ca_certs=$scratch/ca.pem"

# --- bench over TLS, pooled and re-created, CA in the URL
run bench redis --url "$url" --concurrency 2 --duration 0.5 --json --quiet
expect_status 0 "pooled rediss:// bench"
jq -e '.ops > 0 and ([.errors[]] | all(. == 0)) and .connections_opened <= 2' <<<"$out" >/dev/null ||
  fail "pooled rediss:// bench: operations, no errors, at most 2 connections" "$out"
[[ $out == *"rediss://:****@127.0.0.1:${tls_port}/0"* ]] || fail "the report masks only the password" "$out"
expect_no_secret "pooled rediss:// bench"

run bench redis --url "$url" --concurrency 2 --duration 0.5 --no-reuse --json --quiet
expect_status 0 "--no-reuse rediss:// bench"
jq -e '.reuse == false and .ops > 0 and .connections_opened >= .ops' <<<"$out" >/dev/null ||
  fail "--no-reuse over TLS opens a connection per operation" "$out"

# --- the CA from REDIS_SSL_CA_CERTS, through check
run "REDIS_URL=$base" "REDIS_SSL_CA_CERTS=$scratch/ca.pem" check --only redis
expect_status 0 "check over TLS with REDIS_SSL_CA_CERTS"
expect_no_secret "check over TLS"

# --- the wrong CA: a TlsError naming host:port, the cause and the setting; exit 1
run "REDIS_URL=$base" "REDIS_SSL_CA_CERTS=$scratch/other-ca.pem" check --only redis
expect_status 1 "check with a CA that did not sign the server's certificate"
expect_output "TLS to 127.0.0.1:${tls_port} failed" "unknown issuer in check"
expect_output "REDIS_SSL_CA_CERTS" "unknown issuer in check"
expect_no_secret "unknown issuer in check"

run bench redis --url "$base?ssl_ca_certs=$scratch/other-ca.pem" --concurrency 1 --duration 0.3
[ "$status" -ne 0 ] || fail "bench with the wrong CA exits non-zero" "$out"
expect_output "TLS to 127.0.0.1:${tls_port} failed" "unknown issuer in bench"
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
