#!/usr/bin/env bash
# HTTP benchmark: one nginx (one worker, a 17-byte file) on a free loopback port, then, taking
# turns so machine noise hits everyone alike, wrk -t1 -cN, a bare libcurl multi loop
# (bench/http_raw_peer.cpp) and `poolkit bench http` at N = 1, 8, 32, 8 bare libcurl threads
# with an easy handle each, poolkit --sync and --no-reuse at 8, Python's aiohttp (one shared ClientSession) at the same
# N and requests (one shared Session, N threads) at 8. Then HTTPS, against a second nginx with
# TLS (a throw-away CA, RSA 2048, TLS 1.2 and 1.3) in the same rounds: wrk and poolkit at
# N = 8 and 32, and one connection per request at 8 (wrk -H 'Connection: close' against
# poolkit --no-reuse, which trusts the CA through HTTP_CA_BUNDLE; wrk verifies no certificate).
# The bare libcurl loop runs over TLS too (libcurl-tls), the floor for a libcurl-based client.
# Every figure is the median of ROUNDS runs of SECONDS each; ratios are against wrk at the same
# N in this same invocation. Prints two markdown tables.
#
# Usage: bench/http.sh [build-dir]   (env: SECONDS_PER_RUN=4 ROUNDS=3 TLS=1; TLS=0: no HTTPS,
#        TLS=only: the HTTPS table alone)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:-$root/build}")
poolkit="$build/tools/poolkit/poolkit"
raw_peer="$build/bench/poolkit_http_raw_peer"
seconds=${SECONDS_PER_RUN:-4}
rounds=${ROUNDS:-3}
[ -x "$poolkit" ] || { echo "build poolkit first: $poolkit not found" >&2; exit 1; }
[ -x "$raw_peer" ] || { echo "build the benchmarks first: $raw_peer not found" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk not found: run scripts/install-deps" >&2; exit 1; }
command -v jq >/dev/null || { echo "jq not found" >&2; exit 1; }
with_tls=${TLS:-1}
# shellcheck source=../scripts/lib/nginx.sh
source "$root/scripts/lib/nginx.sh"
# shellcheck source=../scripts/lib/test_ca.sh
source "$root/scripts/lib/test_ca.sh"

# Python peers from PyPI, in a venv under the build folder.
venv="$build/bench-venv"
if [ "$with_tls" != only ] && [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet aiohttp requests >&2
fi

scratch=$(mktemp -d)
chmod 755 "$scratch"  # nginx's workers run unprivileged
plain_nginx_pid=
tls_nginx_pid=
cleanup() {
  for nginx_pid in "$plain_nginx_pid" "$tls_nginx_pid"; do stop_nginx; done
  rm -rf "$scratch"
}
trap cleanup EXIT

cat >"$scratch/peers.py" <<'PY'
import asyncio, sys, threading, time

def run_aiohttp(url, n, seconds):
    import aiohttp
    async def main():
        count = 0
        connector = aiohttp.TCPConnector(limit=n, limit_per_host=n)
        async with aiohttp.ClientSession(connector=connector) as session:
            end = time.monotonic() + seconds
            async def worker():
                nonlocal count
                while time.monotonic() < end:
                    async with session.get(url) as response:
                        await response.read()
                        if response.status == 200:
                            count += 1
            start = time.monotonic()
            await asyncio.gather(*(worker() for _ in range(n)))
            return count / (time.monotonic() - start)
    return asyncio.run(main())

def run_requests(url, n, seconds):
    import requests
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=n))
    counts = [0] * n
    end = time.monotonic() + seconds
    def worker(i):
        while time.monotonic() < end:
            if session.get(url).status_code == 200:
                counts[i] += 1
    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
    return sum(counts) / (time.monotonic() - start)

peer, url, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
print(f"{(run_aiohttp if peer == 'aiohttp' else run_requests)(url, n, seconds):.0f}")
PY

start_nginx "$scratch/plain"
plain_nginx_pid=$nginx_pid
url="http://127.0.0.1:$nginx_port/small.txt"
if [ "$with_tls" != 0 ]; then
  make_test_ca "$scratch/ca"
  start_nginx "$scratch/tls" "$scratch/ca/server.pem" "$scratch/ca/server.key"
  tls_nginx_pid=$nginx_pid
  tls_url="https://127.0.0.1:$nginx_port/small.txt"
fi

wrk_rate() {  # wrk arguments...
  wrk -t1 -d"${seconds}s" "$@" | awk '/Requests\/sec/ {printf "%.0f\n", $2}'
}
poolkit_tls() {  # n, then more `poolkit bench http` options
  local n=$1
  shift
  HTTP_CA_BUNDLE="$scratch/ca/ca.pem" "$poolkit" bench http --url "$tls_url" -c "$n" \
    --pool-size "$n" -d "$seconds" --json --quiet "$@" | jq -r '.ops_per_sec | floor'
}

# One measurement in requests per second.
measure() {  # name n
  local name=$1 n=$2
  case $name in
    wrk) wrk_rate -c"$n" "$url" ;;
    wrk-tls) wrk_rate -c"$n" "$tls_url" ;;
    wrk-tls-close) wrk_rate -c"$n" -H 'Connection: close' "$tls_url" ;;
    libcurl-tls) CURL_CA_BUNDLE="$scratch/ca/ca.pem" "$raw_peer" "$tls_url" "$n" "$seconds" ;;
    poolkit-tls) poolkit_tls "$n" ;;
    poolkit-tls-sync) poolkit_tls "$n" --sync ;;
    poolkit-tls-no-reuse) poolkit_tls "$n" --no-reuse ;;
    libcurl) "$raw_peer" "$url" "$n" "$seconds" ;;
    libcurl-threads) "$raw_peer" "$url" "$n" "$seconds" --threads ;;
    poolkit) "$poolkit" bench http --url "$url" -c "$n" --pool-size "$n" -d "$seconds" --json \
               --quiet | jq -r '.ops_per_sec | floor' ;;
    poolkit-sync) "$poolkit" bench http --url "$url" -c "$n" --pool-size "$n" -d "$seconds" \
                    --sync --json --quiet | jq -r '.ops_per_sec | floor' ;;
    poolkit-no-reuse) "$poolkit" bench http --url "$url" -c "$n" --pool-size "$n" \
                        -d "$seconds" --no-reuse --json --quiet | jq -r '.ops_per_sec | floor' ;;
    aiohttp | requests) "$venv/bin/python" "$scratch/peers.py" "$name" "$url" "$n" "$seconds" ;;
  esac
}

runs=("wrk 1" "libcurl 1" "poolkit 1" "aiohttp 1" "wrk 8" "libcurl 8" "poolkit 8"
      "libcurl-threads 8" "poolkit-sync 8" "poolkit-no-reuse 8" "aiohttp 8" "requests 8" "wrk 32"
      "libcurl 32" "poolkit 32" "aiohttp 32")
tls_runs=("wrk-tls 8" "libcurl-tls 8" "poolkit-tls 8" "poolkit-tls-sync 8" "wrk-tls-close 8"
          "poolkit-tls-no-reuse 8" "wrk-tls 32" "libcurl-tls 32" "poolkit-tls 32")
case $with_tls in
  0) ;;
  only) runs=("${tls_runs[@]}") ;;
  *) runs+=("${tls_runs[@]}") ;;
esac
declare -A value  # "<run>|<round>" -> req/s
for round in $(seq 1 "$rounds"); do
  for run in "${runs[@]}"; do
    # shellcheck disable=SC2086
    value["$run|$round"]=$(measure $run)
    echo "round $round: $run -> ${value["$run|$round"]} req/s" >&2
  done
done

# The machine is shared and noisy, so each ratio is taken within one round (runs next to each
# other) and the table shows the median and the range of those per-round ratios.
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
per_round() {  # run [baseline-run]: the run's values, or its ratios to the baseline
  local round
  for round in $(seq 1 "$rounds"); do
    if [ -n "${2:-}" ]; then
      awk -v a="${value["$1|$round"]}" -v b="${value["$2|$round"]}" \
        'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print 0 }'
    else
      echo "${value["$1|$round"]}"
    fi
  done
}
summary() {  # run baseline-run -> "median (min–max)"
  local ratios
  ratios=$(per_round "$1" "$2" | sort -g)
  echo "$(median <<<"$ratios") ($(head -1 <<<"$ratios")–$(tail -1 <<<"$ratios"))"
}

if [ "$with_tls" != only ]; then
  echo "| client | N | req/s, median of $rounds × ${seconds} s | × wrk at N, median (range) of per-round ratios | target |"
  echo "|---|---|---|---|---|"
  for run in "${runs[@]}"; do
    read -r name n <<<"$run"
    [[ $name == *-tls* ]] && continue
    target=""
    case "$name $n" in
      "poolkit 32") target="≥ 0.75" ;;
      "poolkit-sync 8") target="≥ 0.6" ;;
    esac
    ratio=$( [ "$name" = wrk ] && echo "1" || summary "$run" "wrk $n")
    echo "| $name | $n | $(per_round "$run" | median) | $ratio | $target |"
  done
  echo
  echo "Reuse vs no reuse at N = 8 (poolkit ÷ poolkit --no-reuse, per round): $(summary "poolkit 8" "poolkit-no-reuse 8")× (target ≥ 3)."
  echo
  echo "poolkit's async client ÷ the bare libcurl loop, per round: N = 1 $(summary "poolkit 1" "libcurl 1")×, N = 8 $(summary "poolkit 8" "libcurl 8")×, N = 32 $(summary "poolkit 32" "libcurl 32")×; the sync client at 8 ÷ 8 bare libcurl threads (an easy handle each) $(summary "poolkit-sync 8" "libcurl-threads 8")×."
fi

[ "$with_tls" != 0 ] || exit 0
echo
echo "HTTPS (TLS 1.3, RSA 2048; wrk -t1 as the peer, with Connection: close for the one-connection-per-request row):"
echo
echo "| client | N | req/s, median of $rounds × ${seconds} s | × the wrk row, median (range) of per-round ratios | target |"
echo "|---|---|---|---|---|"
for run in "${tls_runs[@]}"; do
  read -r name n <<<"$run"
  case "$name" in
    wrk-tls | wrk-tls-close) ratio=1; target="" ;;
    poolkit-tls-no-reuse) ratio=$(summary "$run" "wrk-tls-close $n"); target="≥ 0.8" ;;
    poolkit-tls-sync | libcurl-tls) ratio=$(summary "$run" "wrk-tls $n"); target="" ;;
    *) ratio=$(summary "$run" "wrk-tls $n"); target="≥ 0.6" ;;
  esac
  echo "| $name | $n | $(per_round "$run" | median) | $ratio | $target |"
done
echo
echo "Pooled vs re-created over TLS at N = 8 (poolkit ÷ poolkit --no-reuse, per round): $(summary "poolkit-tls 8" "poolkit-tls-no-reuse 8")×."
echo
echo "poolkit's async client ÷ the bare libcurl loop over TLS, per round: N = 8 $(summary "poolkit-tls 8" "libcurl-tls 8")×, N = 32 $(summary "poolkit-tls 32" "libcurl-tls 32")×."
