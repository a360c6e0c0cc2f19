# Shared helpers for the bench scripts: tools, build, start a throwaway
# Tessera (and bench/bare), run wrk, medians and per-round ratios, and the
# figure/target/verdict lines. Source this file; it sets ROOT, TESSERA,
# BARE, WORK, ADDR.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
# Length of one measurement, and rounds of each interleaved comparison.
# The defaults keep bench/all.sh under 30 minutes on 2 cores.
BENCH_SECONDS="${BENCH_SECONDS:-5}"
BENCH_ROUNDS="${BENCH_ROUNDS:-3}"
CORES="$(nproc)"
# wrk threads: one per core, the same for a figure and its baseline.
WRK_THREADS="${WRK_THREADS:-$CORES}"

# need COMMAND [DEBIAN_PACKAGE]: installs the package with apt-get when the
# command is missing (we run as root; no sudo).
need() {
  command -v "$1" >/dev/null && return 0
  echo "== installing ${2:-$1} (apt-get)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${2:-$1}") >/dev/null
  command -v "$1" >/dev/null || { echo "FAIL: $1 is not installed and apt-get could not install ${2:-$1}" >&2; exit 1; }
}

build_all() {
  need wrk
  need curl
  need python3
  echo "== building (release)" >&2
  # TESSERA_BIN: measure another build (one with frame pointers, say);
  # the workspace is then not built.
  [ -n "${TESSERA_BIN:-}" ] || cargo build --quiet --release -p tessera --manifest-path "$ROOT/Cargo.toml"
  cargo build --quiet --release --manifest-path "$BENCH/bare/Cargo.toml"
  TESSERA="${TESSERA_BIN:-$ROOT/target/release/tessera}"
  BARE="$BENCH/bare/target/release/tessera-bare"
}

# gateway_toml UPSTREAM_ADDR: the benches' [gateway] section: that upstream,
# and /api/** open to any authenticated caller (the rule every figure that
# checks a token is judged under).
gateway_toml() {
  printf '[gateway]\nupstream = "http://%s"\n[[gateway.rules]]\nmethods = ["*"]\npath = "/api/**"\nallow = ["authenticated"]\n' "$1"
}

# bench_token: logs the bench user in (see `login`); sets TOKEN and BEARER
# (the Authorization header), exits when no token comes back.
bench_token() {
  TOKEN="$(login | json_field access_token)"
  [ -n "$TOKEN" ] || { echo "no access token from http://$ADDR/oauth/token" >&2; exit 1; }
  BEARER="Authorization: Bearer $TOKEN"
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# new_tessera_dir [extra toml] [listen]: a fresh work dir with a config
# (plain HTTP; listen defaults to a free port picked by the server) and an
# initialised data dir. Sets WORK and exports TESSERA_CONFIG.
new_tessera_dir() {
  WORK="$(mktemp -d ${BENCH_TMP:+-p $BENCH_TMP})"
  cat > "$WORK/tessera.toml" <<TOML
data_dir = "$WORK/data"
[server]
listen = "${2:-127.0.0.1:0}"
tls = "off"
${1:-}
TOML
  export TESSERA_CONFIG="$WORK/tessera.toml"
  export TESSERA_ADMIN_PASSWORD="Load-Opening-Key-7"
  "$TESSERA" init >/dev/null 2>&1
}

# start_tessera [extra toml]: a fresh data dir, plain HTTP on a free port.
start_tessera() {
  new_tessera_dir "${1:-}"
  serve_tessera
}

# serve_tessera: `tessera serve` on the current WORK; sets SERVE_PID, ADDR.
serve_tessera() {
  : >"$WORK/serve.out"
  RUST_LOG="${RUST_LOG:-info}" "$TESSERA" serve >"$WORK/serve.out" 2>>"$WORK/serve.log" &
  SERVE_PID=$!
  trap stop_tessera EXIT
  ADDR=""
  for _ in $(seq 1 300); do
    ADDR="$(sed -n 's#^tessera listening on http://##p' "$WORK/serve.out" 2>/dev/null || true)"
    [ -n "$ADDR" ] && break
    sleep 0.1
  done
  [ -n "$ADDR" ] || { echo "tessera did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
}

# kill_tessera: stops the server but keeps WORK (for a restart).
kill_tessera() {
  if [ -n "${SERVE_PID:-}" ]; then
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    # Not our child (started by bench/readyz.py): wait for it to go.
    while kill -0 "$SERVE_PID" 2>/dev/null; do sleep 0.05; done
    SERVE_PID=""
  fi
}

# What a script starts or makes beside Tessera (bench/bare, ...):
# `track PID|DIR...`. On exit, after Tessera, the latest first: a PID is
# stopped, a DIR removed.
EXTRA=()
track() { EXTRA+=("$@"); }

stop_tessera() {
  kill_tessera
  local i x
  for ((i = ${#EXTRA[@]} - 1; i >= 0; i--)); do
    x="${EXTRA[$i]}"
    if [ -d "$x" ]; then
      rm -rf "$x"
    else
      kill -TERM "$x" 2>/dev/null || true
      wait "$x" 2>/dev/null || true
    fi
  done
  EXTRA=()
  [ -n "${WORK:-}" ] && rm -rf "$WORK"
  return 0
}

# start_bare: starts bench/bare (the upstream `GET /api/hosts`, the
# HashMap /v1/authz yardstick and the bare grant) on a free port; sets
# BARE_ADDR, BARE_DIR and BARE_PID. bench/bare reads its "TOKEN USER ROLES" lines
# from the FIFO $BARE_DIR/tokens before it answers /v1/authz.
start_bare() {
  BARE_DIR="$(mktemp -d ${BENCH_TMP:+-p $BENCH_TMP})"
  track "$BARE_DIR"
  trap stop_tessera EXIT
  mkfifo "$BARE_DIR/tokens"
  "$BARE" 0 "$BARE_DIR/tokens" >"$BARE_DIR/out" 2>"$BARE_DIR/log" &
  BARE_PID=$!
  track "$BARE_PID"
  for _ in $(seq 1 100); do
    BARE_ADDR="$(sed -n 's#^bare listening on http://##p' "$BARE_DIR/out" 2>/dev/null || true)"
    [ -n "$BARE_ADDR" ] && break
    sleep 0.1
  done
  [ -n "$BARE_ADDR" ] || { echo "bench/bare did not start:" >&2; cat "$BARE_DIR/log" >&2; exit 1; }
}

# bare_tokens "TOKEN USER ROLES"...: hands bench/bare its token map.
bare_tokens() {
  timeout 10 sh -c 'printf "%s\n" "$@" >"$0"' "$BARE_DIR/tokens" "$@" ||
    { echo "bench/bare did not read its token file:" >&2; cat "$BARE_DIR/log" >&2; exit 1; }
  for _ in $(seq 1 50); do grep -q 'loaded' "$BARE_DIR/log" && return 0; sleep 0.1; done
}

# A user and a client that may use every grant; lockout raised to its
# largest allowed threshold, since one user logs in on many connections at
# once and every attempt in flight counts toward it.
BENCH_USER=bench
BENCH_PASSWORD="Load-Harbor-Quill-3"
BENCH_CLIENT=bench-client
BENCH_SECRET="bench-secret-0123456789"
add_bench_principals() {
  "$TESSERA" user add "$BENCH_USER" --password-stdin <<<"$BENCH_PASSWORD" >/dev/null 2>&1
  "$TESSERA" client add "$BENCH_CLIENT" --secret-stdin --grant password --grant refresh_token \
    --grant client_credentials <<<"$BENCH_SECRET" >/dev/null 2>&1
}
BASIC="Authorization: Basic $(printf %s "$BENCH_CLIENT:$BENCH_SECRET" | base64 -w0)"

# login [ADDR]: a password grant with curl; prints the JSON answer.
login() {
  curl -s --max-time 30 -u "$BENCH_CLIENT:$BENCH_SECRET" -d grant_type=password \
    -d username="$BENCH_USER" -d password="$BENCH_PASSWORD" "http://${1:-$ADDR}/oauth/token"
}
json_field() { { cat; echo; } | sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

# expect_200 URL [HEADER...]: the target answers 200 before it is measured.
expect_200() {
  local url="$1"; shift
  local args=() h code
  for h in "$@"; do args+=(-H "$h"); done
  code="$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "${args[@]}" "$url")"
  [ "$code" = 200 ] || { echo "GET $url answered $code, not 200" >&2; exit 1; }
}

# run_wrk [-s SCENARIO.lua] [wrk options...] URL: one wrk run of
# BENCH_SECONDS with WRK_THREADS threads; prints one line
# `ok=N errors=N seconds=S rate=R/s p50_ms=.. p99_ms=.. mean_ms=..`
# (bench/lua/report.lua's done()). Only 2xx/3xx answers count as ok;
# errors are other statuses plus socket errors.
run_wrk() {
  local scenario="" args=()
  if [ "${1:-}" = -s ]; then scenario="$2"; shift 2; fi
  local lua
  lua="$(mktemp ${BENCH_TMP:+-p $BENCH_TMP} --suffix .lua)"
  { [ -n "$scenario" ] && cat "$BENCH/lua/$scenario"; cat "$BENCH/lua/report.lua"; } >"$lua"
  local out
  out="$(WRK_THREADS_N="$WRK_THREADS" wrk -t "$WRK_THREADS" -d "${WRK_SECONDS:-$BENCH_SECONDS}s" --timeout 30s -s "$lua" "$@" 2>&1)" || true
  rm -f "$lua"
  local line
  line="$(grep '^ok=' <<<"$out" | tail -1)"
  if [ -z "$line" ]; then
    echo "wrk failed: $out" >&2
    echo "ok=0 errors=1 seconds=0 rate=0/s p50_ms=0 p99_ms=0 mean_ms=0"
  else
    echo "$line"
  fi
}

# field_of NAME "<run_wrk line>": one value (rate, ok, errors, p99_ms...).
field_of() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
rate_of() { field_of rate "$1"; }
errors_of() { field_of errors "$1"; }

median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) m = 0; else if (NR % 2) m = v[(NR + 1) / 2]; else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
    if (m >= 100) printf "%.0f\n", m; else printf "%.4g\n", m }'
}

# ratios FIELD FIGURES_ARRAY BASELINE_ARRAY: per round, figure r's FIELD
# over the mean of the baselines taken just before (r) and after (r + 1).
ratios() {
  local field="$1"
  local -n fig="$2" base="$3"
  local i
  for ((i = 0; i < ${#fig[@]}; i++)); do
    awk -v f="$(field_of "$field" "${fig[$i]}")" -v a="$(field_of "$field" "${base[$i]}")" \
      -v b="$(field_of "$field" "${base[$((i + 1))]}")" \
      'BEGIN { m = (a + b) / 2; printf "%.4f\n", (m > 0 ? f / m : 0) }'
  done
}
# values FIELD ARRAY: FIELD of every run.
values() { local -n arr="$2"; local x; for x in "${arr[@]}"; do field_of "$1" "$x"; done; }
total_errors() { local -n arr="$1"; local x n=0; for x in "${arr[@]}"; do n=$((n + $(errors_of "$x"))); done; echo "$n"; }

show() { echo "   $*" >&2; }

# verdict VALUE OP TARGET: PASS or FAIL.
verdict() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? (a >= b) : (a <= b); print ok ? "PASS" : "FAIL" }'; }

# figure NAME VALUE TARGET VERDICT: one result line, also appended to
# $BENCH_SUMMARY (bench/all.sh's table) when set. A FAIL makes the script
# exit non-zero at `finish`.
FAILED=0
figure() {
  printf '%-44s %16s  %-34s %s\n' "$1" "$2" "$3" "$4"
  [ -n "${BENCH_SUMMARY:-}" ] && printf '%s\t%s\t%s\t%s\t%s\n' "$(basename "$0" .sh)" "$1" "$2" "$3" "$4" >>"$BENCH_SUMMARY"
  [ "$4" = FAIL ] && FAILED=1
  return 0
}
header() { printf '%-44s %16s  %-34s %s\n' "figure" "value" "target" "verdict"; }
finish() { exit "$FAILED"; }

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/${1:-$SERVE_PID}/status"; }

# cpu_ticks [PID]: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${1:-$SERVE_PID}/stat"; }
CLK_TCK="$(getconf CLK_TCK)"
# per_cpu_second "<run_wrk line>" TICKS_BEFORE TICKS_AFTER: ok answers per
# second of the server's own CPU time (what one core does, wrk's and the
# baseline's share excluded).
per_cpu_second() {
  awk -v n="$(field_of ok "$1")" -v a="$2" -v b="$3" -v hz="$CLK_TCK" \
    'BEGIN { s = (b - a) / hz; printf "%.0f\n", (s > 0 ? n / s : 0) }'
}
