#!/usr/bin/env bash
# Where a proxied request's CPU goes: Tessera's gateway (authenticated)
# beside nginx proxy_pass (no auth, gateway.sh's baseline), in front of the
# same upstream (bench/bare's GET /api/hosts). A diagnostic for the
# gateway figure, not a target: it prints no PASS/FAIL.
#
# - CPU per request, user and system (kernel) apart: the serving
#   processes' utime/stime from /proc/PID/stat (all threads; nginx's
#   workers) over a wrk take (64 connections, BENCH_SECONDS), divided by
#   the requests wrk counted; the upstream's too. Gateway and nginx takes
#   interleaved, BENCH_ROUNDS rounds, medians. Absolute microseconds move
#   with the machine's load; the gateway/nginx ratio of the same round is
#   the figure.
# - System calls per request under the same load: `strace -c -f` attached
#   for one more take each (strace slows the server down; the calls it
#   counts per request are what matters, not the rate).
#
#   bench/cost.sh
#   TESSERA_BIN=/path/to/tessera bench/cost.sh
source "$(dirname "$0")/lib.sh"
source "$BENCH/nginx.sh"
CONNS="${GATEWAY_CONNS:-64}"
need strace
build_all
start_proxies
NGINX_WORKERS=($(pgrep -P "$NGINX_PID"))
[ "${#NGINX_WORKERS[@]}" -gt 0 ] || { echo "nginx has no worker processes" >&2; exit 1; }
TICK="$(getconf CLK_TCK)"
OUT="$(mktemp -d ${BENCH_TMP:+-p $BENCH_TMP})"
track "$OUT"

# ticks PID...: "USER SYSTEM" clock ticks the processes have used so far.
ticks() {
  local p u=0 s=0 a b
  for p in "$@"; do
    read -r a b < <(awk '{ print $14, $15 }' "/proc/$p/stat")
    u=$((u + a)); s=$((s + b))
  done
  echo "$u $s"
}

# take URL PID...: one wrk take; prints "proxy_user proxy_sys upstream_total"
# in microseconds per request.
take() {
  local url="$1"; shift
  local u0 s0 u1 s1 bu0 bs0 bu1 bs1 line ok
  read -r u0 s0 < <(ticks "$@"); read -r bu0 bs0 < <(ticks "$BARE_PID")
  line="$(run_wrk -c "$CONNS" -H "$BEARER" "$url")"
  read -r u1 s1 < <(ticks "$@"); read -r bu1 bs1 < <(ticks "$BARE_PID")
  ok="$(field_of ok "$line")"
  [ "$(errors_of "$line")" = 0 ] && [ "${ok:-0}" -gt 0 ] || { echo "wrk: $line" >&2; exit 1; }
  awk -v n="$ok" -v t="$TICK" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v b=$((bu1 - bu0 + bs1 - bs0)) \
    'BEGIN { k = 1e6 / t / n; printf "%.3f %.3f %.3f\n", u * k, s * k, b * k }'
}

# calls URL PID...: system calls per request of PID... under one wrk take.
calls() {
  local url="$1"; shift
  local args=() p name
  name="$(mktemp -u XXXX)"
  for p in "$@"; do args+=(-p "$p"); done
  strace -c -f -qq -o "$OUT/$name" "${args[@]}" &
  local strace_pid=$!
  sleep 1
  local line
  line="$(run_wrk -c "$CONNS" -H "$BEARER" "$url")"
  kill -INT "$strace_pid"; wait "$strace_pid" 2>/dev/null || true
  # strace -c's table: % time, seconds, usecs/call, calls, [errors], syscall.
  awk -v n="$(field_of ok "$line")" '
    /^-/ || /^%/ || /total$/ { next }
    NF >= 5 { total += $4; if ($4 / n >= 0.05) top = top sprintf(" %s %.2f", $NF, $4 / n) }
    END { printf "%.2f  (%s )\n", total / n, top }' "$OUT/$name"
}

echo "== CPU per request: Tessera's gateway and nginx, $CONNS connections, ${BENCH_SECONDS}s takes, $BENCH_ROUNDS rounds" >&2
gw_user=(); gw_sys=(); ng_user=(); ng_sys=(); up_gw=(); up_ng=(); r_user=(); r_sys=(); r_total=()
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  read -r gu gs gb < <(take "http://$ADDR/api/hosts" "$SERVE_PID")
  read -r nu ns nb < <(take "http://$NGINX_ADDR/api/hosts" "${NGINX_WORKERS[@]}")
  show "gateway user ${gu} sys ${gs} us/request (upstream ${gb});  nginx user ${nu} sys ${ns} (upstream ${nb})"
  gw_user+=("$gu"); gw_sys+=("$gs"); ng_user+=("$nu"); ng_sys+=("$ns"); up_gw+=("$gb"); up_ng+=("$nb")
  r_user+=("$(awk -v a="$gu" -v b="$nu" 'BEGIN { printf "%.4f", a / b }')")
  r_sys+=("$(awk -v a="$gs" -v b="$ns" 'BEGIN { printf "%.4f", a / b }')")
  r_total+=("$(awk -v a="$gu" -v b="$gs" -v c="$nu" -v d="$ns" 'BEGIN { printf "%.4f", (a + b) / (c + d) }')")
done
echo "== system calls per request under load (strace -c -f, one take each)" >&2
gw_calls="$(calls "http://$ADDR/api/hosts" "$SERVE_PID")"
ng_calls="$(calls "http://$NGINX_ADDR/api/hosts" "${NGINX_WORKERS[@]}")"

echo
printf '%-52s %12s %12s\n' "CPU per proxied request (medians)" "user us" "system us"
printf '%-52s %12s %12s\n' "Tessera gateway, authenticated" "$(median "${gw_user[@]}")" "$(median "${gw_sys[@]}")"
printf '%-52s %12s %12s\n' "nginx proxy_pass, no auth" "$(median "${ng_user[@]}")" "$(median "${ng_sys[@]}")"
printf '%-52s %12s %12s\n' "gateway / nginx (median of per-round ratios)" "$(median "${r_user[@]}")x" "$(median "${r_sys[@]}")x"
printf '%-52s %12s\n' "gateway / nginx, user + system" "$(median "${r_total[@]}")x"
printf '%-52s %12s\n' "the upstream's CPU per request (user + system)" "$(median "${up_gw[@]}") / $(median "${up_ng[@]}") us"
echo
printf '%-52s %s\n' "system calls per request under load" "total  (by name, >= 0.05)"
printf '%-52s %s\n' "Tessera gateway" "$gw_calls"
printf '%-52s %s\n' "nginx (its workers)" "$ng_calls"
