#!/usr/bin/env bash
# `poolkit bench http` and `poolkit config` over HTTPS, against a real nginx with `ssl` on and a
# CA made here with the openssl CLI: the CA named by HTTP_CA_BUNDLE (or a fallback variable)
# works and exits 0; without it the run exits 1 with the TLS error as its example, host shown and
# secrets masked; `config` says which CA source is in force. Usage: tls_http.sh <poolkit> <root>
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"

# shellcheck source=../../scripts/lib/nginx.sh
source "$root/scripts/lib/nginx.sh"
# shellcheck source=../../scripts/lib/test_ca.sh
source "$root/scripts/lib/test_ca.sh"
scratch=$(mktemp -d)
cleanup() {
  stop_nginx
  rm -rf "$scratch"
}
trap cleanup EXIT

chmod 755 "$scratch"  # nginx's workers run unprivileged
make_test_ca "$scratch/ca" || exit 1
start_nginx "$scratch/nginx" "$scratch/ca/server.pem" "$scratch/ca/server.key" || exit 1
url="https://127.0.0.1:$nginx_port/small.txt"
ca="$scratch/ca/ca.pem"

for client in "" --sync; do
  for variable in HTTP_CA_BUNDLE REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE; do
    run_split "$variable=$ca" bench http --url "$url" --concurrency 2 --duration 0.3 --json --quiet $client
    expect_status 0 "bench http $client over HTTPS with $variable"
    jq -e '.ops > 0 and .connections_opened <= 2 and (.errors | add) == 0' <<<"$out" >/dev/null ||
      fail "bench http $client over HTTPS with $variable: requests succeed on reused connections" "$out"
  done
done

run_split "HTTP_CA_BUNDLE=$ca" bench http --url "$url" --concurrency 2 --duration 0.3 --json \
  --quiet --no-reuse
expect_status 0 "bench http --no-reuse over HTTPS"
jq -e '.ops > 0 and .connections_opened == .ops' <<<"$out" >/dev/null ||
  fail "--no-reuse over HTTPS opens a connection per request" "$out"

# No CA named: the system store does not know the test CA. Nothing succeeds: exit 1, and the
# first error says which host and why, with the token masked.
run_split bench http --url "$url?token=$secret" --concurrency 2 --duration 0.3 --json --quiet
expect_status 1 "bench http over HTTPS without the CA"
jq -e --arg host "TLS to 127.0.0.1:$nginx_port failed: unknown issuer" \
  '.ops == 0 and ([.error_examples[] | contains($host)] | any)
   and ([.error_examples[] | contains("token=****")] | any)
   and ([.error_examples[] | contains("circuit")] | any | not)' <<<"$out" >/dev/null ||
  fail "the TLS error names host, port and cause, and no circuit opens" "$out"
out="$out$err"
expect_no_secret "bench http over HTTPS without the CA"

run_split bench http --url "$url" --concurrency 1 --duration 0.3 --quiet --sync
expect_status 1 "bench http --sync over HTTPS without the CA (text report)"
expect_output "unknown issuer" "the text report shows the TLS error"

# An unrelated CA first in the chain wins over the right one after it.
run "HTTP_CA_BUNDLE=$scratch/ca/other-ca.pem" "SSL_CERT_FILE=$ca" bench http --url "$url" \
  --concurrency 1 --duration 0.3 --json --quiet
expect_status 1 "HTTP_CA_BUNDLE wins over SSL_CERT_FILE"
expect_output "HTTP_CA_BUNDLE ($scratch/ca/other-ca.pem)" "the error names the CA source in force"

# Verification off: works against the server whatever CA it has, and is warned about.
run HTTP_TLS_VERIFY=false bench http --url "$url" --concurrency 1 --duration 0.3 --json --quiet
expect_status 0 "bench http with HTTP_TLS_VERIFY=false"

# config: which CA source is in force, and where it came from.
run "CURL_CA_BUNDLE=$ca" config
expect_status 0 "config with CURL_CA_BUNDLE"
expect_output "CURL_CA_BUNDLE" "config names the fallback in force"
expect_output "$ca" "config shows the CA path in force"
run config
expect_output "HTTP_CA_BUNDLE" "config lists HTTP_CA_BUNDLE"

finish "tls http"
