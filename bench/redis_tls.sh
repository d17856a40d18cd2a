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

# shellcheck source=redis_lib.sh
source "$(dirname "$0")/redis_lib.sh"
redis_bench_setup bench/redis_tls.sh redis-server redis-benchmark redis-cli jq openssl
poolkit=$(realpath "${1:-$root/build/tools/poolkit/poolkit}")
handshakes=$(dirname "$poolkit")/../../bench/poolkit_redis_tls_handshakes
[ -x "$handshakes" ] || { echo "bench/redis_tls.sh: build the benchmarks first ($handshakes)" >&2; exit 1; }

# The CA and the server's certificate (for 127.0.0.1), gone with $scratch.
# shellcheck source=../scripts/lib/test_ca.sh
source "$root/scripts/lib/test_ca.sh"
make_test_ca "$scratch/ca" || exit 1
redis_client_args=(--tls --cacert "$scratch/ca/ca.pem")
start_redis_server --tls "$scratch/ca" "$scratch" "requirepass $password" || exit 1
port=$redis_port
url="rediss://:${password}@127.0.0.1:${port}/0?ssl_ca_certs=$scratch/ca/ca.pem"
redis-cli "${redis_client_args[@]}" -p "$port" set "key:__rand_int__" xxx >/dev/null

# redis-benchmark --tls and poolkit bench redis: see redis_lib.sh.
peer() { redis_benchmark_get "$1"; }
ours() { poolkit_bench_redis "$@"; }

echo "| N | redis-benchmark --tls rps | poolkit rps | poolkit / peer | peer p50 ms | poolkit p50 ms | peer p99 ms | poolkit p99 ms | poolkit errors |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
declare -A pooled_rps
for n in 1 8 32; do
  peer_rps=() peer_p50=() peer_p99=() our_rps=() our_p50=() our_p99=() our_errors=0
  for _ in $(seq 1 "$rounds"); do  # alternate, so both see the same background load
    read -r a b c _ < <(peer "$n")
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
