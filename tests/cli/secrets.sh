#!/usr/bin/env bash
# No secret in any output, however a URL is written: the test password is planted in every
# position a URL can hold one (user info, each credential parameter, after an '@' in the query,
# percent-encoded, in a fragment, as a lone user-info token, as a bare query item), for each
# layer and each command (config, check and bench, as text and JSON), against a loopback port
# nobody listens on and against a real redis-server that expects another password. Any output
# holding the password, raw or percent-encoded, fails the test.
# Usage: secrets.sh <poolkit binary> <repository root>. Never print the password (see helpers.bash).
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"
use_scratch_and_redis_server

# Every byte of the password percent-encoded, the way a careful user writes a password with
# reserved characters; the masker must hide this form as well.
encoded=$(printf '%s' "$secret" | od -An -tx1 -v | tr -d ' \n' | sed 's/../%&/g')

# Fails when $out holds the password in clear or in its percent-encoded form.
expect_nothing_secret() {  # description
  if grep -q -F -- "$secret" <<<"$out" || grep -q -i -F -- "$encoded" <<<"$out"; then
    fail "$1: output contains the test password" "$(sed "s/$encoded/<ENCODED SECRET>/Ig" <<<"$out")"
  fi
}

credential_params=(password pass pwd token secret sig signature X-Amz-Signature X-Amz-Credential
  X-Amz-Security-Token key api_key apikey API_KEY auth client_secret access_token refresh_token
  code Token)

# The query of every credential parameter, preceded by an '@' in the query (the masker once took
# the last '@' as the end of the user info).
credential_query() {
  local query="email=a@b.example"
  for name in "${credential_params[@]}"; do query+="&${name}=${secret}"; done
  printf '%s' "$query"
}

# URLs for scheme://host:port/path, one per position of the secret.
planted_urls() {  # scheme host-and-port path
  local base="$1://" where="$2" path="$3"
  printf '%s\n' \
    "${base}app:${secret}@${where}${path}" \
    "${base}${where}${path}?$(credential_query)" \
    "${base}app:${encoded}@${where}${path}?w=1&password=${encoded}" \
    "${base}${where}${path}#access_token=${secret}" \
    "${base}${secret}@${where}${path}" \
    "${base}${where}${path}?${secret}" \
    "${base}app:${secret}@${where}:99999${path}?e=a@b" \
    "${base}default:${secret}${path}"
}

closed_port=1  # nothing listens on 127.0.0.1:1, so connects fail at once
quick_mongo=(MONGODB_SERVER_SELECTION_TIMEOUT_MS=300 MONGODB_CONNECT_TIMEOUT_MS=300 MONGODB_MIN_POOL_SIZE=0)
quick_http=(REQUESTS_RETRIES=0 HTTP_RESILIENCE_MAX_ATTEMPTS=1 REQUESTS_TIMEOUT=2 AIOHTTP_TIMEOUT_TOTAL=2)
quick_redis=(REDIS_RETRY_ATTEMPTS=0 REDIS_CONNECT_TIMEOUT=1 REDIS_WAIT_TIMEOUT=1)
bench_args=(-c 1 -d 0.3 --quiet)

check_layer() {  # variable url label
  local variable=$1 url=$2 label=$3
  for json in "" --json; do
    run "$variable=$url" "${quick_mongo[@]}" "${quick_redis[@]}" config $json
    expect_nothing_secret "$label: config $json"
    run "$variable=$url" "${quick_mongo[@]}" "${quick_redis[@]}" check $json
    expect_nothing_secret "$label: check $json"
  done
}

while read -r url; do
  check_layer REDIS_URL "$url" "redis URL"
  for json in "" --json; do
    run "${quick_redis[@]}" bench redis --url "$url" "${bench_args[@]}" $json
    expect_nothing_secret "redis URL: bench redis $json"
  done
done < <(planted_urls redis "127.0.0.1:$closed_port" /0)

while read -r url; do
  check_layer MONGODB_URL "$url" "mongo URL"
  for json in "" --json; do
    run "${quick_mongo[@]}" bench mongo --url "$url" "${bench_args[@]}" $json
    expect_nothing_secret "mongo URL: bench mongo $json"
  done
done < <(planted_urls mongodb "127.0.0.1:$closed_port" /app)

while read -r url; do
  for json in "" --json; do
    run "${quick_http[@]}" check --only http,http_sync --http-url "$url" $json
    expect_nothing_secret "http URL: check $json"
    for client in "" --sync; do
      run "${quick_http[@]}" bench http --url "$url" $client "${bench_args[@]}" $json
      expect_nothing_secret "http URL: bench http $client $json"
    done
  done
done < <(planted_urls http "127.0.0.1:$closed_port" /v1/items; planted_urls https "127.0.0.1:$closed_port" /)

# A real server that refuses the password: the error path that quotes the server's answer.
start_redis_server "$scratch" "requirepass other-${RANDOM}" || exit 1
while read -r url; do
  run "${quick_redis[@]}" "REDIS_URL=$url" check
  expect_nothing_secret "redis URL, wrong password: check"
  run "${quick_redis[@]}" bench redis --url "$url" "${bench_args[@]}" --json
  expect_nothing_secret "redis URL, wrong password: bench redis"
done < <(planted_urls redis "127.0.0.1:$redis_port" /0 | head -3)

finish secrets
