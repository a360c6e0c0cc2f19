#!/usr/bin/env bash
# Authenticated requests/s through Tessera's gateway beside nginx
# `proxy_pass` doing no authentication at all, in front of the same
# upstream, in one run; the ratio to the upstream called directly is shown
# too. Target: gateway >= 1.0 x nginx.
#
# The upstream is bench/bare's `GET /api/hosts` (a fixed ~100-byte JSON).
# Every take: wrk, 64 connections, BENCH_SECONDS, the same
# `Authorization: Bearer` header. Order: direct, nginx, then per round
# gateway, nginx, direct; each gateway take is compared with the mean of the
# nginx (and direct) takes on either side of it, the verdict is on the
# median of the per-round ratios.
source "$(dirname "$0")/lib.sh"
source "$BENCH/nginx.sh"
CONNS="${GATEWAY_CONNS:-64}"
build_all
start_proxies

get() { run_wrk -c "$CONNS" -H "$BEARER" "http://$1/api/hosts"; }
echo "== GET /api/hosts: direct, nginx (no auth), Tessera's gateway; $CONNS connections, ${BENCH_SECONDS}s each, $BENCH_ROUNDS rounds" >&2
direct=("$(get "$BARE_ADDR")"); show "direct   ${direct[0]}"
nginx=("$(get "$NGINX_ADDR")"); show "nginx    ${nginx[0]}"
gateway=()
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  gateway+=("$(get "$ADDR")"); show "gateway  ${gateway[-1]}"
  nginx+=("$(get "$NGINX_ADDR")"); show "nginx    ${nginx[-1]}"
  direct+=("$(get "$BARE_ADDR")"); show "direct   ${direct[-1]}"
done
vs_nginx="$(median $(ratios rate gateway nginx))"
vs_direct="$(median $(ratios rate gateway direct))"
nginx_direct="$(awk -v n="$(median $(values rate nginx))" -v d="$(median $(values rate direct))" 'BEGIN { printf "%.4f", n / d }')"
echo
header
figure "upstream direct, requests/s" "$(median $(values rate direct))" "(errors $(total_errors direct))" ""
figure "nginx proxy_pass, no auth, requests/s" "$(median $(values rate nginx))" "(baseline; errors $(total_errors nginx))" ""
figure "Tessera gateway, authenticated, requests/s" "$(median $(values rate gateway))" "(errors $(total_errors gateway))" ""
figure "nginx / direct" "${nginx_direct}x" "(reference)" ""
figure "gateway / direct" "${vs_direct}x" "(reported)" ""
ok="$(verdict "$vs_nginx" ">=" 1.0)"; [ "$(total_errors gateway)" = 0 ] || ok=FAIL
figure "gateway: Tessera / nginx" "${vs_nginx}x" ">= 1.0x" "$ok"
finish
