#!/usr/bin/env bash
# Redis over TLS: `poolkit bench redis --url rediss://…` against `redis-benchmark --tls` (the C
# peer shipped with Redis, one event loop, OpenSSL too), GET of one 3-byte value against one
# redis-server listening TLS only on a free loopback port, with a throw-away CA made here by the
# openssl CLI (RSA 2048, as most managed services still hand out). N = 1, 8, 32; then pooled
# against --no-reuse (a TCP connect, a TLS handshake, AUTH and CLIENT SETNAME per GET) at 8;
# then what TLS session resumption saves per new connection (bench/redis_tls_handshakes.cpp).
# Prints markdown tables.
#
# Usage: bench/redis_tls.sh [poolkit binary] (default build/tools/poolkit/poolkit; the
#        handshake bench is looked for in bench/ of the same build)
#        DURATION=seconds per run (default 3); ROUNDS=alternating runs of each tool per N, the
#        table shows the median of each column (default 3).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
poolkit=$(realpath "${1:-$root/build/tools/poolkit/poolkit}")
handshakes=$(dirname "$poolkit")/../../bench/poolkit_redis_tls_handshakes
[ -x "$handshakes" ] || { echo "bench/redis_tls.sh: build the benchmarks first ($handshakes)" >&2; exit 1; }
duration=${DURATION:-3}
rounds=${ROUNDS:-3}
scratch=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then { kill -9 "$server_pid" && wait "$server_pid"; } 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

for tool in redis-server redis-benchmark redis-cli jq openssl; do
  command -v "$tool" >/dev/null || { echo "bench/redis_tls.sh: $tool is missing (scripts/install-deps)" >&2; exit 1; }
done

# The CA and the server's certificate (for 127.0.0.1), valid one day, gone with $scratch.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=poolkit bench CA" \
  -keyout "$scratch/ca.key" -out "$scratch/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$scratch/server.key" \
  -out "$scratch/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$scratch/san.ext"
openssl x509 -req -in "$scratch/server.csr" -CA "$scratch/ca.pem" -CAkey "$scratch/ca.key" \
  -CAcreateserial -days 1 -extfile "$scratch/san.ext" -out "$scratch/server.pem" 2>/dev/null

password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
export REDISCLI_AUTH=$password
tls_cli=(--tls --cacert "$scratch/ca.pem")

start_server() {
  for _ in $(seq 1 20); do
    port=$((20000 + RANDOM % 40000))
    printf 'port 0\ntls-port %s\nbind 127.0.0.1\nsave ""\nappendonly no\ndir %s\nrequirepass %s\n' \
      "$port" "$scratch" "$password" >"$scratch/redis.conf"
    printf 'tls-cert-file %s\ntls-key-file %s\ntls-ca-cert-file %s\ntls-auth-clients no\n' \
      "$scratch/server.pem" "$scratch/server.key" "$scratch/ca.pem" >>"$scratch/redis.conf"
    chmod 600 "$scratch/redis.conf"
    redis-server "$scratch/redis.conf" >"$scratch/redis.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
      if redis-cli "${tls_cli[@]}" -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$server_pid" 2>/dev/null || true
    server_pid=
  done
  echo "bench/redis_tls.sh: could not start redis-server with TLS" >&2
  exit 1
}

start_server
url="rediss://:${password}@127.0.0.1:${port}/0?ssl_ca_certs=$scratch/ca.pem"
redis-cli "${tls_cli[@]}" -p "$port" set "key:__rand_int__" xxx >/dev/null

# redis-benchmark --tls: requests sized to run about $duration seconds at the rate a probe
# shows. Prints "rps p50_ms p99_ms".
peer() {
  local clients=$1 probe requests
  probe=$(redis-benchmark "${tls_cli[@]}" -p "$port" -a "$password" -t get -c "$clients" -n 20000 \
    --csv 2>/dev/null | awk -F'"' '/^"GET"/ {print $4}')
  requests=$(awk -v r="$probe" -v d="$duration" 'BEGIN {printf "%d", r * d}')
  redis-benchmark "${tls_cli[@]}" -p "$port" -a "$password" -t get -c "$clients" -n "$requests" \
    --csv 2>/dev/null | awk -F'"' '/^"GET"/ {print $4, $10, $14}'
}

# poolkit bench redis; prints "ops_per_sec p50_us p99_us connections_opened errors".
ours() {
  "$poolkit" bench redis --url "$url" --duration "$duration" --json --quiet "$@" |
    jq -r '"\(.ops_per_sec) \(.latency_us.p50) \(.latency_us.p99) \(.connections_opened) \([.errors[]] | add)"'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
median() { tr ' ' '\n' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

echo "| N | redis-benchmark --tls rps | poolkit rps | poolkit / peer | peer p50 ms | poolkit p50 ms | peer p99 ms | poolkit p99 ms | poolkit errors |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A pooled_rps
for n in 1 8 32; do
  peer_rps=() peer_p50=() peer_p99=() our_rps=() our_p50=() our_p99=() our_errors=0
  for _ in $(seq 1 "$rounds"); do  # alternate, so both see the same background load
    read -r a b c < <(peer "$n")
    peer_rps+=("$a") peer_p50+=("$b") peer_p99+=("$c")
    read -r a b c _ e < <(ours --concurrency "$n")
    our_rps+=("$a") our_p50+=("$(ms "$b")") our_p99+=("$(ms "$c")") our_errors=$((our_errors + e))
  done
  pr=$(echo "${peer_rps[*]}" | median) p50=$(echo "${peer_p50[*]}" | median) p99=$(echo "${peer_p99[*]}" | median)
  r=$(echo "${our_rps[*]}" | median) o50=$(echo "${our_p50[*]}" | median) o99=$(echo "${our_p99[*]}" | median)
  pooled_rps[$n]=$r
  printf '| %s | %.0f | %.0f | %s | %s | %s | %s | %s | %s |\n' "$n" "$pr" "$r" "$(ratio "$r" "$pr")" \
    "$p50" "$o50" "$p99" "$o99" "$our_errors"
done
echo
echo "| poolkit over TLS | N | rps | p50 ms | p99 ms | connections opened | errors | pooled / this |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
read -r rps p50 p99 opened errors < <(ours --concurrency 8 --no-reuse)
printf '| --no-reuse (connect + TLS handshake + AUTH + CLIENT SETNAME per GET) | 8 | %.0f | %s | %s | %s | %s | %s |\n' \
  "$rps" "$(ms "$p50")" "$(ms "$p99")" "$opened" "$errors" "$(ratio "${pooled_rps[8]}" "$rps")"
echo
echo "A new connection, opened and closed 100 times in a row (median of 5 alternating rounds):"
echo
echo "| TLS session | ms per connection | full handshakes | resumed handshakes |"
echo "|---|---:|---:|---:|"
"$handshakes" "$url" 100 5 | while read -r label per_connection full resumed; do
  printf '| %s | %s | %s | %s |\n' "$([ "$label" = resumed ] && echo "resumed (the default)" || echo "full handshake every time")" \
    "$per_connection" "$full" "$resumed"
done
