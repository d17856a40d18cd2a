# Sourced by the Redis benchmarks (bench/redis.sh, bench/redis_tls.sh, bench/redis_async.sh):
# what they share. `redis_bench_setup NAME TOOL...` sets
#   $root       the repository
#   $duration   seconds per run (DURATION, default 3); $rounds: alternating runs (ROUNDS, 3)
#   $scratch    a folder gone at exit, with the redis-server (scripts/lib/redis_server.sh)
#   $password   random, for this run only, also in REDISCLI_AUTH: a password like production's,
#               so a re-connect pays for AUTH as a real one does; given to peers by environment
# after checking that every TOOL is on PATH. Then start_redis_server "$scratch" "requirepass
# $password" sets $redis_port; over TLS, redis_client_args holds redis-cli's and
# redis-benchmark's TLS options.

redis_client_args=()

redis_bench_setup() {
  local name=$1 tool
  shift
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  # shellcheck source=../scripts/lib/redis_server.sh
  source "$root/scripts/lib/redis_server.sh"
  duration=${DURATION:-3}
  rounds=${ROUNDS:-3}
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool is missing (scripts/install-deps)" >&2; exit 1; }
  done
  scratch=$(mktemp -d)
  trap 'stop_redis_server; rm -rf "$scratch"' EXIT
  password=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
  export REDISCLI_AUTH=$password
}

# Runs a command with its output in $scratch/run.out and run.err; prints the CPU seconds (user
# + system, its children included) it used, or nothing when it failed.
run_measuring_cpu() {
  (if "$@" >"$scratch/run.out" 2>"$scratch/run.err"; then times; fi) |
    awk 'function seconds(t, p) { split(t, p, /[ms]/); return p[1] * 60 + p[2] }
         NR == 2 { printf "%.3f\n", seconds($1) + seconds($2) }'
}

# redis-benchmark GET against the server, CLIENTS connections plus any other options (-P 16),
# requests sized to run about $duration seconds at the rate a short probe shows. Prints
# "rps p50_ms p99_ms requests cpu_seconds" (the sized run's).
redis_benchmark_get() {  # clients [redis-benchmark options...]
  local clients=$1 probe requests cpu
  shift
  local run=(redis-benchmark "${redis_client_args[@]}" -p "$redis_port" -a "$password" -t get
             -c "$clients" "$@" --csv)
  probe=$("${run[@]}" -n 20000 2>/dev/null | awk -F'"' '/^"GET"/ {print $4}')
  requests=$(awk -v r="$probe" -v d="$duration" 'BEGIN {printf "%d", r * d}')
  cpu=$(run_measuring_cpu "${run[@]}" -n "$requests")
  awk -F'"' -v n="$requests" -v cpu="$cpu" '/^"GET"/ {print $4, $10, $14, n, cpu}' "$scratch/run.out"
}

# `poolkit bench redis` against $url for $duration seconds, with the options given; prints
# "ops_per_sec p50_us p99_us connections_opened errors".
poolkit_bench_redis() {  # [poolkit bench redis options...]
  "$poolkit" bench redis --url "$url" --duration "$duration" --json --quiet "$@" |
    jq -r '"\(.ops_per_sec) \(.latency_us.p50) \(.latency_us.p99) \(.connections_opened) \([.errors[]] | add)"'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
ms() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000 }'; }
median() { tr ' ' '\n' | awk 'NF' | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
