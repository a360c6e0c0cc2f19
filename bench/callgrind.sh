#!/usr/bin/env bash
# Instructions per request (user space, counted by valgrind's callgrind, so
# stable on a noisy shared machine) for Tessera's /v1/authz with a cached
# opaque token and for an authenticated request through its gateway, beside
# the bare axum server's /v1/authz (the HashMap yardstick of
# bench/gateway.sh) measured the same way.
#
# Each server runs under `valgrind --tool=callgrind` (plain HTTP, a fresh
# SQLite data dir). One curl process sends WARMUP requests on one
# keep-alive connection, the counters are zeroed (`callgrind_control -z`),
# N more requests go out the same way, and the counters are dumped
# (`callgrind_control -d`): the dump's total over N is the figure. What
# runs in the background meanwhile (timers, the connection watchdog) is
# counted too: it is part of what serving costs.
#
#   bench/callgrind.sh            N=2000 WARMUP=200
#   N=5000 bench/callgrind.sh
#   CALLGRIND_KEEP=/tmp/cg bench/callgrind.sh   keep the dumps there, and
#       print the top of `callgrind_annotate --inclusive=yes` for each
#   TESSERA_BIN=/path/to/tessera bench/callgrind.sh   measure that build
#       (another tree's, for a before/after) instead of building this one
#
# Kernel time (loopback TCP, epoll, futex) is not counted: callgrind sees
# user-space instructions only.
source "$(dirname "$0")/lib.sh"
source "$BENCH/nginx.sh"
N="${N:-2000}"
WARMUP="${WARMUP:-200}"
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
  { echo "valgrind (with callgrind_control) is needed: apt-get install valgrind" >&2; exit 1; }

if [ -n "${TESSERA_BIN:-}" ]; then
  # A build made elsewhere (another tree, another target dir): as is.
  TESSERA="$TESSERA_BIN"
else
  echo "== building (release)" >&2
  cargo build --quiet --release -p tessera --manifest-path "$ROOT/Cargo.toml"
  TESSERA="$ROOT/target/release/tessera"
fi
cargo build --quiet --release --manifest-path "$BENCH/bare/Cargo.toml"
BARE="$BENCH/bare/target/release/tessera-bare"
start_bare
OUT="${CALLGRIND_KEEP:-$(mktemp -d ${BENCH_TMP:+-p $BENCH_TMP})}"
mkdir -p "$OUT"
[ -n "${CALLGRIND_KEEP:-}" ] || track "$OUT"

# The store, the user and the client are set up by the CLI, then the
# server runs under callgrind.
new_tessera_dir "$(gateway_toml "$BARE_ADDR")"
add_bench_principals

# under_callgrind NAME PORTFILE-PATTERN CMD...: starts CMD under callgrind,
# output in $OUT/NAME.out; sets CG_PID.
under_callgrind() {
  local name="$1"; shift
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$name.cg" "$@" \
    >"$OUT/$name.stdout" 2>"$OUT/$name.stderr" &
  CG_PID=$!
  track "$CG_PID"
}
# listening NAME PREFIX: waits (up to 60 s: valgrind starts slowly) for
# "PREFIX host:port" on NAME's stdout and prints the address.
listening() {
  local addr=""
  for _ in $(seq 1 600); do
    addr="$(sed -n "s#^$2##p" "$OUT/$1.stdout" 2>/dev/null || true)"
    [ -n "$addr" ] && { echo "$addr"; return; }
    sleep 0.1
  done
  echo "$1 did not start under callgrind:" >&2; cat "$OUT/$1.stderr" >&2; exit 1
}

# measure NAME PID URL HEADER...: Ir per request of PID for N GETs of URL.
measure() {
  local name="$1" pid="$2" url="$3"; shift 3
  local args=() h i
  for h in "$@"; do args+=(-H "$h"); done
  # One curl, one keep-alive connection: `-K` reads a url per line.
  requests() {
    for ((i = 0; i < $1; i++)); do echo "url = \"$url\""; echo 'output = "/dev/null"'; done >"$OUT/$name.urls"
    curl -s --fail-early -f "${args[@]}" -K "$OUT/$name.urls" || { echo "$url failed" >&2; exit 1; }
  }
  requests "$WARMUP"
  callgrind_control -z "$pid" >/dev/null
  requests "$N"
  callgrind_control --dump="$name" "$pid" >/dev/null
  local dump
  dump="$(ls -t "$OUT"/*.cg.* 2>/dev/null | head -1)"
  local total
  total="$(sed -n 's/^summary: *\([0-9]*\).*/\1/p; s/^totals: *\([0-9]*\).*/\1/p' "$dump" | head -1)"
  mv "$dump" "$OUT/$name.callgrind"
  if [ -n "${CALLGRIND_KEEP:-}" ]; then
    echo "== $name: callgrind_annotate --inclusive=yes $OUT/$name.callgrind (top 40)" >&2
    callgrind_annotate --inclusive=yes "$OUT/$name.callgrind" 2>/dev/null | sed -n '1,60p' | tail -42 >&2
  fi
  echo $((total / N))
}

TESSERA_LOG="${RUST_LOG:-info}"
RUST_LOG="$TESSERA_LOG" under_callgrind tessera "$TESSERA" serve
TPID=$CG_PID
ADDR="$(listening tessera 'tessera listening on http://')"

bench_token

headers="$(curl -s --max-time 60 -o /dev/null -D - -H "$BEARER" \
  -H "X-Original-Method: GET" -H "X-Original-URI: /api/hosts" "http://$ADDR/v1/authz" | tr -d '\r')"
user="$(sed -n 's/^x-tessera-user: *//Ip' <<<"$headers")"
roles="$(sed -n 's/^x-tessera-roles: *//Ip' <<<"$headers")"
bare_tokens "$TOKEN $user $roles"

echo "== $N requests after $WARMUP warm-up, one keep-alive connection (curl -K)" >&2
authz="$(measure authz "$TPID" "http://$ADDR/v1/authz" "$BEARER" "X-Original-Method: GET" "X-Original-URI: /api/hosts")"
gateway="$(measure gateway "$TPID" "http://$ADDR/api/hosts" "$BEARER")"

# nginx proxy_pass (gateway.sh's baseline, no auth) in front of the same
# native upstream: one process, one worker, under callgrind.
start_nginx "$BARE_ADDR" valgrind --tool=callgrind --callgrind-out-file="$OUT/nginx.cg"
nginx="$(measure nginx "$NGINX_PID" "http://$NGINX_ADDR/api/hosts" "$BEARER")"

# The yardstick: bench/bare's /v1/authz under callgrind too (a second
# instance; the first stays Tessera's upstream, natively).
mkfifo "$OUT/bare.tokens"
under_callgrind bare "$BARE" 0 "$OUT/bare.tokens"
BPID=$CG_PID
BADDR="$(listening bare 'bare listening on http://')"
timeout 60 sh -c 'printf "%s\n" "$1" >"$2"' - "$TOKEN $user $roles" "$OUT/bare.tokens"
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$BEARER" "http://$BADDR/v1/authz")" = 200 ] && break
  sleep 0.2
done
bare="$(measure bare "$BPID" "http://$BADDR/v1/authz" "$BEARER")"
upstream="$(measure upstream "$BPID" "http://$BADDR/api/hosts" "$BEARER")"

echo
printf '%-44s %14s\n' "instructions per request (callgrind, N=$N)" "Ir/request"
printf '%-44s %14s\n' "bare /v1/authz (HashMap, the yardstick)" "$bare"
printf '%-44s %14s\n' "Tessera /v1/authz, cached opaque token" "$authz"
printf '%-44s %14s\n' "bare GET /api/hosts (the upstream)" "$upstream"
printf '%-44s %14s\n' "Tessera gateway GET /api/hosts" "$gateway"
printf '%-44s %14s\n' "nginx proxy_pass GET /api/hosts (no auth)" "$nginx"
awk -v a="$authz" -v b="$bare" 'BEGIN { printf "Tessera /v1/authz costs %.2fx the bare server'"'"'s instructions\n", a / b }'
awk -v g="$gateway" -v n="$nginx" 'BEGIN { printf "Tessera'"'"'s gateway costs %.2fx nginx'"'"'s instructions\n", g / n }'
