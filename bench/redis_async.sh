#!/usr/bin/env bash
# Redis at pipeline speed (issue 14): poolkit's async, multiplexed client
# (`poolkit bench redis --async`) against clients that pipeline or multiplex, all running GET of
# one 3-byte value against one redis-server (with a password) on a free loopback port, in this
# one invocation, the tools in turns so that all see the same background load:
#
#   at each N in flight (INFLIGHT, default "1 32 256"):
#     poolkit bench redis --async --inflight N       N GETs in flight, each started from the last
#                                                    one's callback
#     ioredis, enableAutoPipelining (Node)           N async workers awaiting GET after GET
#                                                    (bench/redis_async_ioredis.js)
#     redis-py's asyncio client (Python)             N tasks, one pooled connection each
#                                                    (bench/redis_async_redispy.py)
#     redis-benchmark -c C -P N/C, C = min(N, 32)    N in flight, pipelined by hand
#   and once per round, as references:
#     redis-benchmark -t get -c 32 -P 16, and -c 32 without pipelining
#     poolkit bench redis -c 32 (the pooled client, 32 threads)
#     poolkit bench redis --async --threads 32 (32 threads calling the blocking get())
#
# Client CPU per GET is the user + system time of the client's whole process divided by the GETs
# it made: for the C and C++ tools (which start in milliseconds) the whole run's, from bash's
# `times`; for the Node and Python peers their timed run's, which they measure themselves. Rows of tools
# that are missing say so: the poolkit async rows print "async client: not built" until the
# binary's `bench redis --help` has --inflight. ioredis and redis-py are installed on first use
# under <build>/bench-peers (npm, and a venv with pip); Node and Python are only peers here.
#
# Usage: bench/redis_async.sh [poolkit binary] (default build/tools/poolkit/poolkit)
#        DURATION=seconds per run (default 3); ROUNDS=turns of every tool, the tables show the
#        median of each column (default 3); INFLIGHT="1 32 256".
set -euo pipefail

# shellcheck source=redis_lib.sh
source "$(dirname "$0")/redis_lib.sh"
redis_bench_setup bench/redis_async.sh redis-server redis-benchmark redis-cli jq
poolkit=$(realpath "${1:-$root/build/tools/poolkit/poolkit}")
[ -x "$poolkit" ] || { echo "bench/redis_async.sh: no poolkit binary at $poolkit" >&2; exit 1; }
peers=$(realpath "$(dirname "$poolkit")/../..")/bench-peers
read -r -a inflights <<<"${INFLIGHT:-1 32 256}"
key="key:__rand_int__"  # what redis-benchmark -t get reads; the peers read it too

# --- which tools there are
async_built=false
if "$poolkit" bench redis --help 2>&1 | grep -q -- --inflight; then async_built=true; fi

ioredis_missing=""
if ! command -v node >/dev/null; then
  ioredis_missing="no node (apt-get install nodejs)"
elif [ ! -d "$peers/node_modules/ioredis" ]; then
  mkdir -p "$peers"
  (cd "$peers" && npm install --no-audit --no-fund ioredis@5 >"$scratch/npm.log" 2>&1) ||
    ioredis_missing="npm install ioredis failed"
fi

redispy=$peers/venv/bin/python
redispy_missing=""
if ! "$redispy" -c 'import redis.asyncio' 2>/dev/null; then
  { python3 -m venv "$peers/venv" && "$peers/venv/bin/pip" install -q 'redis>=5' hiredis; } \
    >"$scratch/pip.log" 2>&1 || redispy_missing="no venv with redis-py (python3-venv, pip)"
fi

start_redis_server "$scratch" "requirepass $password" || exit 1
url="redis://:${password}@127.0.0.1:${redis_port}/0"
redis-cli -p "$redis_port" set "$key" xxx >/dev/null

# --- one run of one tool; each prints "rps p50_ms p99_ms cpu_us_per_get batch_mean batch_max", or
# "failed" and the first line of what the tool said

per_get() { awk -v s="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.2f", s * 1e6 / n; else print "n/a" }'; }

redis_benchmark() {  # clients [options]
  local rps p50 p99 requests cpu
  read -r rps p50 p99 requests cpu < <(redis_benchmark_get "$@") || true
  if [ -z "${cpu:-}" ]; then echo failed "$(head -1 "$scratch/run.err")"; return; fi
  echo "$rps $p50 $p99 $(per_get "$cpu" "$requests") - -"
}

# A peer program printing "rps p50_us p99_us commands cpu_seconds" (of its timed run).
peer_program() {  # command...
  local rps p50 p99 commands cpu
  if ! "$@" "$redis_port" "$n" "$duration" "$key" >"$scratch/run.out" 2>"$scratch/run.err"; then
    echo failed "$(head -1 "$scratch/run.err")"
    return
  fi
  read -r rps p50 p99 commands cpu <"$scratch/run.out"
  echo "$rps $(ms "$p50") $(ms "$p99") $(per_get "$cpu" "$commands") - -"
}

poolkit_run() {  # poolkit bench redis options...
  local cpu
  cpu=$(run_measuring_cpu "$poolkit" bench redis --url "$url" --duration "$duration" --json --quiet "$@")
  if [ -z "$cpu" ]; then echo failed "$(head -1 "$scratch/run.err")"; return; fi
  jq -r --argjson cpu "$cpu" '[.ops_per_sec, .latency_us.p50 / 1000, .latency_us.p99 / 1000,
      (if .ops > 0 then $cpu * 1e6 / .ops * 100 | round / 100 else "n/a" end),
      (.batch_mean // "-" | if type == "number" then . * 10 | round / 10 else . end),
      (.batch_max // "-")]
    | map(tostring) | join(" ")' "$scratch/run.out"
}

# tool name → the command of one run (N is $n where it matters)
declare -A run_of=(
  [async]='poolkit_run --async --inflight "$n"'
  [ioredis]='peer_program env NODE_PATH="$peers/node_modules" node "$root/bench/redis_async_ioredis.js"'
  [redispy]='peer_program "$redispy" "$root/bench/redis_async_redispy.py"'
  [rb_n]='redis_benchmark "$((n < 32 ? n : 32))" -P "$(((n + 31) / 32))"'
  [rb_p16]='redis_benchmark 32 -P 16'
  [rb_c32]='redis_benchmark 32'
  [pooled]='poolkit_run --concurrency 32'
  [async_threads]='poolkit_run --async --threads 32'
)
declare -A missing=(
  [async]=$([ "$async_built" = true ] || echo "async client: not built")
  [async_threads]=$([ "$async_built" = true ] || echo "async client: not built")
  [ioredis]=$ioredis_missing
  [redispy]=$redispy_missing
)
label() {
  case $1 in
    async) echo "poolkit async, --inflight $n" ;;
    ioredis) echo "ioredis, enableAutoPipelining" ;;
    redispy) echo "redis-py asyncio" ;;
    rb_n) echo "redis-benchmark -c $((n < 32 ? n : 32)) -P $(((n + 31) / 32))" ;;
    rb_p16) echo "redis-benchmark -c 32 -P 16" ;;
    rb_c32) echo "redis-benchmark -c 32 (no pipelining)" ;;
    pooled) echo "poolkit pooled, 32 threads" ;;
    async_threads) echo "poolkit async, 32 threads calling get()" ;;
  esac
}

# Runs every tool named $rounds times in turns; leaves the median of each column in
# result[tool] ("rps p50 p99 cpu batch_mean batch_max") or the reason it has none.
declare -A result
measure() {  # tool...
  local tool round line
  declare -A lines=()
  for round in $(seq 1 "$rounds"); do
    for tool in "$@"; do
      [ -z "${missing[$tool]:-}" ] || continue
      line=$(eval "${run_of[$tool]}")
      lines[$tool]+="$line"$'\n'
    done
  done
  for tool in "$@"; do
    if [ -n "${missing[$tool]:-}" ]; then result[$tool]=${missing[$tool]}; continue; fi
    if grep -q '^failed' <<<"${lines[$tool]}"; then
      result[$tool]=$(grep -m1 '^failed' <<<"${lines[$tool]}"); continue
    fi
    result[$tool]=$(for column in 1 2 3 4 5 6; do
      awk -v c="$column" 'NF {print $c}' <<<"${lines[$tool]}" | tr '\n' ' ' | median
    done | tr '\n' ' ')
  done
}

field() { read -r -a f <<<"${result[$1]}"; echo "${f[$2]}"; }
has_figures() { [[ ${result[$1]} =~ ^[0-9] ]]; }
# "A ÷ B" of the first column (rps), or n/a.
rps_ratio() { if has_figures "$1" && has_figures "$2"; then ratio "$(field "$1" 0)" "$(field "$2" 0)"; else echo n/a; fi; }
row() {  # prefix tool compared-with
  if has_figures "$2"; then
    read -r rps p50 p99 cpu batch batch_max <<<"${result[$2]}"
    [ "$batch" = - ] || batch="$batch / $batch_max"
    printf '| %s%s | %.0f | %.3f | %.3f | %s | %s | %s |\n' "$1" "$(label "$2")" "$rps" "$p50" "$p99" \
      "$cpu" "$batch" "$([ "$2" = "$3" ] && echo "" || rps_ratio "$3" "$2")"
  else
    printf '| %s%s | %s | | | | | |\n' "$1" "$(label "$2")" "${result[$2]}"
  fi
}

versions="redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')"
[ -n "$ioredis_missing" ] || versions+=", ioredis $(node -p \
  "require('$peers/node_modules/ioredis/package.json').version" || echo ?) on node $(node --version)"
[ -n "$redispy_missing" ] || versions+=", $("$redispy" -c $'import sys, redis\ntry:\n  import hiredis\n  parser = "hiredis " + hiredis.__version__\nexcept ImportError:\n  parser = "no hiredis"\nprint(f"redis-py {redis.__version__} ({parser}) on Python {sys.version.split()[0]}")' || echo "redis-py ?")"
echo "Versions: $versions."
echo
echo "GET at N in flight (median of $rounds turns, $duration s each); the last column is poolkit async's rps ÷ the row's:"
echo
echo "| N | client | rps | p50 ms | p99 ms | client CPU µs/GET | batch mean / max | poolkit async ÷ this |"
echo "|---|---|---:|---:|---:|---:|---:|---:|"
declare -A async_at
for n in "${inflights[@]}"; do
  measure async ioredis redispy rb_n
  async_at[$n]=${result[async]}
  for tool in async ioredis redispy rb_n; do row "$n | " "$tool" async; done
done

echo
echo "References (median of $rounds turns); the last column is the first row's rps ÷ the row's:"
echo
echo "| client | rps | p50 ms | p99 ms | client CPU µs/GET | batch mean / max | poolkit async, 32 threads ÷ this |"
echo "|---|---:|---:|---:|---:|---:|---:|"
n=32  # none of these depends on it
measure async_threads pooled rb_p16 rb_c32
for tool in async_threads pooled rb_p16 rb_c32; do row "" "$tool" async_threads; done

# Issue 14's goals, from the figures above.
top=${inflights[${#inflights[@]} - 1]}
result[async]=${async_at[$top]}
echo
p99_of() { if has_figures "$1"; then field "$1" 2; else echo n/a; fi; }
echo "- poolkit async, 32 threads calling get() ÷ pooled, 32 threads: $(rps_ratio async_threads pooled)," \
  "p99 $(p99_of async_threads) ms against $(p99_of pooled) ms (goal ≥ 2×, p99 no worse)"
echo "- poolkit async --inflight $top ÷ redis-benchmark -c 32 -P 16: $(rps_ratio async rb_p16) (goal ≥ 0.5× at 256)"
echo "- poolkit async --inflight $top ÷ redis-benchmark -c 32: $(rps_ratio async rb_c32) (goal ≥ 3× at 256)"
