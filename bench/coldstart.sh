#!/usr/bin/env bash
# Process start to a ready /readyz on SQLite. Target: <= 100 ms (median of
# COLDSTART_RUNS, 7), on a data dir already initialised and served before.
# Reported beside it: the first-ever start (the first `serve` after
# `tessera init` on a new data dir, a new dir each run).
#
# bench/readyz.py spawns `tessera serve` and asks /readyz in a tight loop
# (0.5 ms between refused connects); the time is from just before the
# spawn to the first 200. Each server is stopped (SIGTERM) before the next.
# An absolute target, as the issue names it: on this shared machine it is
# the one figure without a same-run baseline; the spread is printed.
source "$(dirname "$0")/lib.sh"
RUNS="${COLDSTART_RUNS:-7}"
build_all
PORT="$(free_port)"
ready_ms() { "$BENCH/readyz.py" "$PORT" -- "$TESSERA" serve 2>>"$WORK/serve.log" | sed -n 's/^ms=\([0-9.]*\).*/\1/p'; }

echo "== first-ever start: tessera init on a new data dir, then serve; $RUNS runs" >&2
first=()
for ((i = 1; i <= RUNS; i++)); do
  new_tessera_dir "" "127.0.0.1:$PORT"
  first+=("$(ready_ms)")
  rm -rf "$WORK"
done
show "ms: ${first[*]}"
echo "== start on an initialised data dir (served before); $RUNS runs" >&2
new_tessera_dir "" "127.0.0.1:$PORT"
trap stop_tessera EXIT
ready_ms >/dev/null
again=()
for ((i = 1; i <= RUNS; i++)); do again+=("$(ready_ms)"); done
show "ms: ${again[*]}"
echo
header
minmax() { printf '%s\n' "$@" | sort -g | awk 'NR == 1 { a = $1 } { b = $1 } END { printf "%s-%s", a, b }'; }
figure "first-ever start to ready /readyz, ms" "$(median "${first[@]}")" "(reported; range $(minmax "${first[@]}"))" ""
m="$(median "${again[@]}")"
figure "cold start to ready /readyz, ms" "$m" "<= 100 (range $(minmax "${again[@]}"))" "$(verdict "$m" "<=" 100)"
finish
