#!/usr/bin/env bash
# `poolkit demo --short` end to end: it starts its own redis-server, FerretDB and nginx (and the
# same three over TLS), prints a report row with a recommended pool size for each layer and a
# re-created vs pooled row per layer over TLS, writes an HTML report with four sweep charts that
# headless Chromium renders, never shows its Redis passwords, and leaves no server behind, also
# when interrupted with SIGINT (exit 130).
# Usage: demo.sh <poolkit binary> <repository root>.
#
# The demo runs with TMPDIR set to a private folder: its servers keep their scratch folders (and
# so their command lines) there, which tells exactly which processes and files are the demo's.
set -uo pipefail

# shellcheck source=helpers.bash
source "$(dirname "${BASH_SOURCE[0]}")/helpers.bash" "$@"

scratch=$(mktemp -d)
# nginx's workers (an unprivileged user when the tests run as root) must reach the files it serves.
chmod 755 "$scratch"
demo_tmp="$scratch/tmp"
mkdir -p "$demo_tmp"
demo_pid=
cleanup() {
  if [ -n "$demo_pid" ]; then kill -9 "$demo_pid" 2>/dev/null; wait "$demo_pid" 2>/dev/null; fi
  pkill -9 -f "$demo_tmp" 2>/dev/null
  rm -rf "$scratch"
}
trap cleanup EXIT

# start_demo HTML: starts the demo in the background (clean environment, TMPDIR=$demo_tmp);
# output in $scratch/out.
# The user's own REDIS_URL and MONGODB_URL (unreachable here) must not matter: the demo runs on
# its own servers.
start_demo() {
  # Emptied here, not by the background job's redirection: that runs after the fork, and a
  # wait_for_output in between would find the previous run's output (and interrupt the demo
  # before it has started, which then dies of the SIGINT without a word).
  : >"$scratch/out"
  env -i PATH="$PATH" TMPDIR="$demo_tmp" REDIS_URL=redis://127.0.0.1:1/0 \
    MONGODB_URL=mongodb://127.0.0.1:1/ "$bin" demo --short --html "$1" >"$scratch/out" 2>&1 &
  demo_pid=$!
}

# wait_for_file PATTERN SECONDS: true once a file matches the glob pattern.
wait_for_file() {
  local tries=$(($2 * 10))
  for _ in $(seq 1 "$tries"); do
    # shellcheck disable=SC2086
    if compgen -G "$1" >/dev/null; then return 0; fi
    if ! kill -0 "$demo_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  compgen -G "$1" >/dev/null
}

# wait_for_output TEXT SECONDS: true once the demo printed TEXT.
wait_for_output() {
  local tries=$(($2 * 10))
  for _ in $(seq 1 "$tries"); do
    if grep -q -F -- "$1" "$scratch/out"; then return 0; fi
    if ! kill -0 "$demo_pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  grep -q -F -- "$1" "$scratch/out"
}

# Nothing of the demo's may survive it: no process naming its scratch folders, no folder left.
expect_nothing_left() {
  local left
  sleep 0.2
  left=$(pgrep -a -f "$demo_tmp" || true)
  [ -z "$left" ] || fail "$1: processes left running" "$left"
  left=$(ls -A "$demo_tmp")
  [ -z "$left" ] || fail "$1: scratch folders left behind" "$left"
}

# --- 1. a whole short demo ----------------------------------------------------------------------
started=$(date +%s)
start_demo "$scratch/r.html"
# The password is random per run; read it from redis-server's config while the demo runs, to
# check it never shows. (Never printed here either.)
demo_secret=
if wait_for_file "$demo_tmp/poolkit-redis-*/auth.conf" 30; then
  sleep 0.1
  demo_secret=$(sed -n 's/^requirepass //p' "$demo_tmp"/poolkit-redis-*/auth.conf)
fi
[ -n "$demo_secret" ] || fail "demo: no redis-server with a password was started"
wait "$demo_pid"
status=$?
demo_pid=
out=$(cat "$scratch/out")
elapsed=$(($(date +%s) - started))
expect_status 0 "demo --short"
[ "$elapsed" -lt 60 ] || fail "demo --short took ${elapsed}s, expected well under a minute"
for layer in redis mongo http http_sync; do
  # layer, re-created/s, pooled/s, ratio, p50, p99, opened, errors (none), recommended size
  grep -q -E "^$layer +[1-9][0-9]* +[1-9][0-9]* +[0-9.]+× +[0-9.]+ +[0-9.]+ +[0-9]+ +0  (REDIS_MAX_CONNECTIONS|MONGODB_MAX_POOL_SIZE|AIOHTTP_LIMIT_PER_HOST|REQUESTS_POOL_MAXSIZE)=[1-4]$" <<<"$out" ||
    fail "demo: no error-free report row with a recommended size (one of the sizes swept, 1 to 4) for $layer" "$out"
done
# The same comparison over TLS (a CA made for the run): re-created connections pay a handshake
# each, so the pool wins by more; no sweep, so no recommended size.
for layer in redis mongo http; do
  grep -q -E "^$layer\+tls +[1-9][0-9]* +[1-9][0-9]* +[0-9.]+× +[0-9.]+ +[0-9.]+ +[0-9]+ +0  -$" <<<"$out" ||
    fail "demo: no error-free TLS report row for $layer+tls" "$out"
done
# The recommendation comes from the sweep, and the report says from what and why.
sizing=$(grep -c -E "^  pool sizes measured +1 2 4$" <<<"$out")
[ "$sizing" -eq 4 ] || fail "demo: $sizing layers list the pool sizes measured (1 2 4), expected 4" "$out"
reasons=$(grep -c -E "^  recommended +[A-Z_]+=[1-4]: .*(reaches 95% of the best throughput|has the best throughput|lowest p99)" <<<"$out")
[ "$reasons" -eq 4 ] || fail "demo: $reasons layers say why their size was recommended, expected 4" "$out"
for label in "redis re-created" "redis pooled" "mongo pooled" "http pooled" "http_sync pooled"; do
  expect_output "[$label]" "demo: progress line"
done
expect_output "****" "demo: the Redis URL is shown with its password masked"
expect_output "HTML report: $scratch/r.html" "demo: prints where the HTML report is"
if [ -n "$demo_secret" ] && grep -q -F -- "$demo_secret" <<<"$out"; then
  fail "demo: output contains the demo's Redis password"
fi
if [ -n "$demo_secret" ] && grep -q -F -- "$demo_secret" "$scratch/r.html" 2>/dev/null; then
  fail "demo: the HTML report contains the demo's Redis password"
fi
if grep -q -i "endSessions" <<<"$out"; then fail "demo: libmongoc endSessions noise" "$out"; fi
expect_no_secret "demo"
if [ -f "$scratch/r.html" ]; then
  charts=$(grep -o 'aria-label="[a-z_]* pool-size sweep"' "$scratch/r.html" | wc -l)
  [ "$charts" -eq 4 ] || fail "demo: the HTML report has $charts sweep charts, expected 4"
  marked=$(grep -o '>recommended [1-4][ <]' "$scratch/r.html" | wc -l)
  [ "$marked" -eq 4 ] || fail "demo: $marked sweep charts mark the recommended size, expected 4"
else
  fail "demo: no HTML report written" "$out"
fi
expect_nothing_left "demo"

# --- 2. bad arguments ---------------------------------------------------------------------------
run demo --only redis,cassandra
expect_status 2 "demo --only with an unknown layer"
expect_output "cassandra" "demo --only names the unknown layer"
run demo --concurrency 0
expect_status 2 "demo --concurrency 0"
run demo --short --html "$scratch/no-such-folder/r.html"
expect_status 2 "demo --html in a folder that does not exist"
expect_output "cannot write the report" "demo --html unwritable says so"

# --- 3. SIGINT in the middle of a run -----------------------------------------------------------
start_demo "$scratch/interrupted.html"
if wait_for_output "[redis pooled]" 30 || wait_for_output "[mongo" 5; then
  kill -INT "$demo_pid"
else
  fail "demo (interrupted): never reached the pooled Redis run" "$(cat "$scratch/out")"
  kill -INT "$demo_pid"
fi
status=0
for _ in $(seq 1 100); do
  if ! kill -0 "$demo_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
wait "$demo_pid"
status=$?
demo_pid=
out=$(cat "$scratch/out")
expect_status 130 "demo interrupted by SIGINT"
expect_output "interrupted: stopped" "demo interrupted: says what it stopped"
expect_nothing_left "demo interrupted"

# --- 4. the HTML report in headless Chromium ----------------------------------------------------
# screenshot PAGE PNG: renders a local page as Chromium would show it.
screenshot() {
  timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$scratch/chromium" --screenshot="$2" --window-size=1280,2400 \
    "file://$1" >>"$scratch/chromium.log" 2>&1
}

if [ ! -x /usr/bin/chromium ]; then
  echo "SKIP: /usr/bin/chromium is missing (scripts/install-deps installs it): HTML not rendered"
elif [ -f "$scratch/r.html" ]; then
  screenshot "$scratch/r.html" "$scratch/shot.png"
  # The baseline: the same window with a blank page, which PNG compresses to almost nothing.
  printf '<!doctype html><html><body></body></html>\n' >"$scratch/blank.html"
  screenshot "$scratch/blank.html" "$scratch/blank.png"
  if [ ! -f "$scratch/shot.png" ] || [ ! -f "$scratch/blank.png" ]; then
    fail "chromium: no screenshot" "$(tail -5 "$scratch/chromium.log")"
  else
    size=$(stat -c %s "$scratch/shot.png")
    blank=$(stat -c %s "$scratch/blank.png")
    # Text, tables and eight charts: far more than one flat colour.
    [ "$size" -gt 20000 ] && [ "$size" -gt $((blank * 5)) ] ||
      fail "chromium: the report's screenshot is $size bytes, a blank page's $blank: nothing rendered"
    if [ -n "${POOLKIT_KEEP_DEMO_SCREENSHOT:-}" ]; then
      cp "$scratch/shot.png" "$POOLKIT_KEEP_DEMO_SCREENSHOT"
    fi
  fi
fi

finish "demo"
