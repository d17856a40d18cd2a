#!/usr/bin/env bash
# poolkit's MongoDB layer against its peers on one FerretDB, in one invocation:
#   - `poolkit bench mongo` (mongo::Client: poolkit's pool over single-threaded mongoc clients)
#   - bench/mongo_raw_peer.cpp (a raw mongoc_client_pool_t loop doing the same find by _id)
#   - bench/mongo_pymongo_peer.py (PyMongo's MongoClient, from PyPI in a venv under BUILD)
# at N = 1, 8, 32 threads with a pool of N, then poolkit with and without connection reuse, in
# plain TCP and over TLS (a second FerretDB with a TLS listener and a CA made by scripts/test-ca).
# Prints markdown tables.
#
#   bench/mongo.sh [BUILD_DIR]        (default: build; DURATION=seconds per run, ROUNDS=rounds;
#                                      REUSE_ONLY=1: only the reuse / no-reuse rows)
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=$(cd "${1:-$repo_root/build}" && pwd)
duration="${DURATION:-5}"
rounds="${ROUNDS:-3}"
reuse_only="${REUSE_ONLY:-0}"
poolkit="$build_dir/tools/poolkit/poolkit"
raw_peer="$build_dir/bench/poolkit_mongo_raw_peer"
venv="$build_dir/mongo-bench-venv"

programs=("$poolkit")
[[ $reuse_only == 1 ]] || programs+=("$raw_peer")
for program in "${programs[@]}"; do
  [[ -x "$program" ]] || {
    echo "bench/mongo.sh: $program is missing: build first (cmake --build $build_dir)" >&2
    exit 1
  }
done
command -v jq >/dev/null || {
  echo "bench/mongo.sh: jq is needed" >&2
  exit 1
}

if [[ $reuse_only != 1 ]] && { [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import pymongo' 2>/dev/null; }; then
  echo "bench/mongo.sh: installing pymongo into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q pymongo
fi

# Two FerretDBs of our own, plain and TLS-only, stopped on exit.
run_dir=$(mktemp -d /tmp/poolkit-mongo-bench.XXXXXX)
if [[ -x "$build_dir/ferretdb-launcher/ferretdb-launcher" ]]; then
  export POOLKIT_FERRETDB_LAUNCHER="$build_dir/ferretdb-launcher/ferretdb-launcher"
fi
ferretdb() { # plain|tls command...: scripts/ferretdb with that instance's state folder
  local instance=$1
  shift
  POOLKIT_FERRETDB_RUN_DIR="$run_dir/$instance" "$repo_root/scripts/ferretdb" "$@"
}
cleanup() {
  ferretdb plain stop >/dev/null 2>&1 || true
  ferretdb tls stop >/dev/null 2>&1 || true
  rm -rf "$run_dir"
}
trap cleanup EXIT
url=$(ferretdb plain start)
"$repo_root/scripts/test-ca" "$run_dir/ca"
tls_url="$(ferretdb tls start 0 --tls-cert "$run_dir/ca/server.pem" --tls-key "$run_dir/ca/server.key")"
tls_url_no_ca=$tls_url
tls_url+="&tlsCAFile=$run_dir/ca/ca.pem"
# The system's trust store plus the test CA, as a hashed directory and as one bundle: how a
# client without tlsCAFile (Atlas, say) meets its server.
mkdir -p "$run_dir/system-store"
cp -L /etc/ssl/certs/*.pem "$run_dir/system-store/" 2>/dev/null || true
cp "$run_dir/ca/ca.pem" "$run_dir/system-store/poolkit-test-ca.pem"
openssl rehash "$run_dir/system-store" 2>/dev/null
cat /etc/ssl/certs/ca-certificates.crt "$run_dir/ca/ca.pem" >"$run_dir/system-bundle.pem"

# Runs a peer; prints its JSON with the CPU seconds (user + sys) the peer process used added as
# cpu_s. libmongoc warns on stderr each time a client closes (FerretDB has no endSessions):
# those lines are dropped to keep the output readable.
quiet() {
  local TIMEFORMAT='%U %S' times
  times=$({ time "$@" >"$run_dir/stdout" 2>"$run_dir/stderr"; } 2>&1)
  grep -v endSessions "$run_dir/stderr" >&2 || true
  jq -c --argjson cpu "$(echo "$times" | awk '{ print $1 + $2 }')" '. + {cpu_s: $cpu}' \
    "$run_dir/stdout"
}

poolkit_run() { # N [extra options] -> JSON
  local n=$1
  shift
  quiet "$poolkit" bench mongo --url "$url" -c "$n" --pool-size "$n" -d "$duration" --quiet --json "$@"
}
poolkit_tls_run() { # N [extra options] -> JSON, over TLS
  local n=$1
  shift
  quiet "$poolkit" bench mongo --url "$tls_url" -c "$n" --pool-size "$n" -d "$duration" --quiet --json "$@"
}
poolkit_system_store_run() { # dir|bundle -> JSON: --no-reuse at 8 over TLS without tlsCAFile
  local variable=SSL_CERT_DIR store="$run_dir/system-store"
  [[ $1 == bundle ]] && variable=SSL_CERT_FILE store="$run_dir/system-bundle.pem"
  quiet env "$variable=$store" "$poolkit" bench mongo --url "$tls_url_no_ca" -c 8 --pool-size 8 \
    -d "$duration" --quiet --json --no-reuse
}
raw_run() { quiet "$raw_peer" "$url" "$1" "$duration"; }
pymongo_run() { quiet "$venv/bin/python" "$repo_root/bench/mongo_pymongo_peer.py" "$url" "$1" "$duration"; }

poolkit_run 1 >/dev/null # seeds poolkit_bench.find_by_id, warms FerretDB
poolkit_tls_run 1 >/dev/null # the same on the TLS server

declare -A ops p50 cpu
add() { # key json: appends this run's figures to the key's lists
  ops[$1]+="$(echo "$2" | jq .ops_per_sec) "
  p50[$1]+="$(echo "$2" | jq .latency_us.p50) "
  cpu[$1]+="$(echo "$2" | jq '.cpu_s * 1e6 / ([.ops, 1] | max)') " # client CPU µs per operation
}

for ((round = 0; round < rounds; round++)); do
  for n in 1 8 32; do
    [[ $reuse_only == 1 ]] && break
    # Alternate the order between rounds so drift in the machine's load hits every peer.
    if ((round % 2 == 0)); then
      add "poolkit$n" "$(poolkit_run "$n")"
      add "raw$n" "$(raw_run "$n")"
      add "pymongo$n" "$(pymongo_run "$n")"
    else
      add "pymongo$n" "$(pymongo_run "$n")"
      add "raw$n" "$(raw_run "$n")"
      add "poolkit$n" "$(poolkit_run "$n")"
    fi
  done
  add "noreuse" "$(poolkit_run 8 --no-reuse)"
  add "reuse" "$(poolkit_run 8)"
  add "noreuse_tls" "$(poolkit_tls_run 8 --no-reuse)"
  add "reuse_tls" "$(poolkit_tls_run 8)"
  add "noreuse_tls_dir" "$(poolkit_system_store_run dir)"
  add "noreuse_tls_bundle" "$(poolkit_system_store_run bundle)"
done

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.0f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# Per-round ratios a/b of two lists (runs of one round were adjacent): "median (min–max)".
paired() {
  paste -d' ' <(echo "$1" | tr ' ' '\n' | grep .) <(echo "$2" | tr ' ' '\n' | grep .) |
    awk '{ printf "%.4f\n", ($2 > 0 ? $1 / $2 : 0) }' | sort -g |
    awk '{ r[NR] = $1 } END {
      m = (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2)
      printf "%.2f (%.2f–%.2f)", m, r[1], r[NR] }'
}

if [[ $reuse_only != 1 ]]; then
echo "| N | poolkit ops/s | raw mongoc_client_pool_t ops/s | pymongo ops/s | poolkit / raw | poolkit / pymongo | p50 µs poolkit / raw / pymongo | client CPU µs/op poolkit / raw / pymongo | CPU poolkit / raw |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in 1 8 32; do
  echo "| $n | $(median <<<"${ops[poolkit$n]}") | $(median <<<"${ops[raw$n]}") |" \
    "$(median <<<"${ops[pymongo$n]}") | $(paired "${ops[poolkit$n]}" "${ops[raw$n]}") |" \
    "$(paired "${ops[poolkit$n]}" "${ops[pymongo$n]}") |" \
    "$(median <<<"${p50[poolkit$n]}") / $(median <<<"${p50[raw$n]}") / $(median <<<"${p50[pymongo$n]}") |" \
    "$(median <<<"${cpu[poolkit$n]}") / $(median <<<"${cpu[raw$n]}") / $(median <<<"${cpu[pymongo$n]}") |" \
    "$(paired "${cpu[poolkit$n]}" "${cpu[raw$n]}") |"
done
echo
fi
echo "| poolkit, N = 8 | ops/s | p50 µs | client CPU µs/op |"
echo "|---|---|---|---|"
echo "| reuse (pool of 8) | $(median <<<"${ops[reuse]}") | $(median <<<"${p50[reuse]}") | $(median <<<"${cpu[reuse]}") |"
echo "| --no-reuse (connect, handshake, ping, find, close) | $(median <<<"${ops[noreuse]}") | $(median <<<"${p50[noreuse]}") | $(median <<<"${cpu[noreuse]}") |"
echo "| reuse / no-reuse | $(paired "${ops[reuse]}" "${ops[noreuse]}") | | |"
echo "| TLS: reuse (pool of 8) | $(median <<<"${ops[reuse_tls]}") | $(median <<<"${p50[reuse_tls]}") | $(median <<<"${cpu[reuse_tls]}") |"
echo "| TLS: --no-reuse (connect, TLS handshake, hello, ping, find, close) | $(median <<<"${ops[noreuse_tls]}") | $(median <<<"${p50[noreuse_tls]}") | $(median <<<"${cpu[noreuse_tls]}") |"
echo "| TLS: reuse / no-reuse | $(paired "${ops[reuse_tls]}" "${ops[noreuse_tls]}") | | |"
echo "| TLS / plain, reuse | $(paired "${ops[reuse_tls]}" "${ops[reuse]}") | | |"
echo "| TLS / plain, --no-reuse | $(paired "${ops[noreuse_tls]}" "${ops[noreuse]}") | | |"
echo "| TLS, no tlsCAFile, system CAs as a hashed directory (SSL_CERT_DIR): --no-reuse | $(median <<<"${ops[noreuse_tls_dir]}") | $(median <<<"${p50[noreuse_tls_dir]}") | $(median <<<"${cpu[noreuse_tls_dir]}") |"
echo "| TLS, no tlsCAFile, system CAs as one bundle (SSL_CERT_FILE, libmongoc's own way): --no-reuse | $(median <<<"${ops[noreuse_tls_bundle]}") | $(median <<<"${p50[noreuse_tls_bundle]}") | $(median <<<"${cpu[noreuse_tls_bundle]}") |"
echo
echo "Medians of $rounds rounds of ${duration} s per run; ratios: median (min–max) of the per-round"
echo "ratios of adjacent runs. One FerretDB 1.24 (SQLite) on 127.0.0.1; $(nproc) cores."
