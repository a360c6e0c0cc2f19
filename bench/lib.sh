# Shared helpers for the bench scripts: build, start a throwaway Tessera,
# stop it. Source this file; it sets TESSERA, LOADGEN, WORK, ADDR.

set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_SECONDS="${BENCH_SECONDS:-10}"

build_all() {
  echo "== building (release)" >&2
  cargo build --quiet --release -p tessera --manifest-path "$ROOT/Cargo.toml"
  cargo build --quiet --release --manifest-path "$ROOT/bench/loadgen/Cargo.toml"
  # TESSERA_BIN: measure another build (one with frame pointers, say).
  TESSERA="${TESSERA_BIN:-$ROOT/target/release/tessera}"
  LOADGEN="$ROOT/bench/loadgen/target/release/tessera-loadgen"
}

# start_tessera [extra toml]: a fresh data dir, plain HTTP on a free port.
start_tessera() {
  WORK="$(mktemp -d ${BENCH_TMP:+-p $BENCH_TMP})"
  cat > "$WORK/tessera.toml" <<TOML
data_dir = "$WORK/data"
[server]
listen = "127.0.0.1:0"
tls = "off"
${1:-}
TOML
  export TESSERA_CONFIG="$WORK/tessera.toml"
  export TESSERA_ADMIN_PASSWORD="Load-Opening-Key-7"
  "$TESSERA" init >/dev/null 2>&1
  RUST_LOG="${RUST_LOG:-info}" "$TESSERA" serve >"$WORK/serve.out" 2>"$WORK/serve.log" &
  SERVE_PID=$!
  trap stop_tessera EXIT
  for _ in $(seq 1 100); do
    ADDR="$(sed -n 's#^tessera listening on http://##p' "$WORK/serve.out" 2>/dev/null || true)"
    [ -n "$ADDR" ] && break
    sleep 0.1
  done
  [ -n "$ADDR" ] || { echo "tessera did not start:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
}

# What a script starts or makes beside Tessera (bench/bare, ...):
# `track PID|DIR...`. On exit, after Tessera, the latest first: a PID is
# stopped, a DIR removed.
EXTRA=()
track() { EXTRA+=("$@"); }

stop_tessera() {
  if [ -n "${SERVE_PID:-}" ]; then
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=""
  fi
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
}

# start_bare: builds and starts bench/bare (the upstream `GET /api/hosts`
# and the HashMap /v1/authz yardstick) on a free port; sets BARE_ADDR and
# BARE_DIR. bench/bare reads one "TOKEN USER ROLES" line from
# $BARE_DIR/tokens before it answers /v1/authz.
start_bare() {
  cargo build --quiet --release --manifest-path "$ROOT/bench/bare/Cargo.toml"
  BARE="$ROOT/bench/bare/target/release/tessera-bare"
  BARE_DIR="$(mktemp -d ${BENCH_TMP:+-p $BENCH_TMP})"
  track "$BARE_DIR"
  trap stop_tessera EXIT
  mkfifo "$BARE_DIR/tokens"
  "$BARE" 0 "$BARE_DIR/tokens" >"$BARE_DIR/out" 2>"$BARE_DIR/log" &
  track $!
  for _ in $(seq 1 100); do
    BARE_ADDR="$(sed -n 's#^bare listening on http://##p' "$BARE_DIR/out" 2>/dev/null || true)"
    [ -n "$BARE_ADDR" ] && break
    sleep 0.1
  done
  [ -n "$BARE_ADDR" ] || { echo "bench/bare did not start:" >&2; cat "$BARE_DIR/log" >&2; exit 1; }
}

# rate_of "<loadgen output line>": the rate figure.
rate_of() { sed -n 's/.*rate=\([0-9.]*\)\/s.*/\1/p' <<<"$1"; }
errors_of() { sed -n 's/.*errors=\([0-9]*\).*/\1/p' <<<"$1"; }

# verdict FIGURE OP TARGET: PASS or FAIL.
verdict() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN { ok = (op == ">=") ? (a >= b) : (a <= b); print ok ? "PASS" : "FAIL" }'; }
