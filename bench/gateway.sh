#!/usr/bin/env bash
# Authenticated requests/s through Tessera's gateway beside requests/s sent
# straight to the same upstream, and /v1/authz checks/s beside a bare axum
# server answering the same route with a HashMap lookup, in one run.
# Targets: gateway >= 0.6 x direct; authz >= 0.8 x bare. The upstream and
# the bare /v1/authz are bench/bare (one process, one port). Plain HTTP on
# loopback, 64 connections, BENCH_SECONDS per measurement (10),
# BENCH_ROUNDS rounds (3): each figure is measured between two takes of its
# baseline every round, and the verdict is on the median per-round ratio.
source "$(dirname "$0")/lib.sh"
CONNS=64
build_all
# bench/bare first: it is Tessera's upstream. It reads its token map from a
# FIFO once Tessera has minted the token (see bench/bare/src/main.rs).
start_bare

start_tessera "[gateway]
upstream = \"http://$BARE_ADDR\"
[[gateway.rules]]
methods = [\"*\"]
path = \"/api/**\"
allow = [\"authenticated\"]"
"$TESSERA" user add bench --password-stdin <<<"Load-Harbor-Quill-3" 2>/dev/null
"$TESSERA" client add bench-client --secret-stdin --grant password <<<"bench-secret" 2>/dev/null

TOKEN="$(curl -s --max-time 10 -u bench-client:bench-secret \
  -d grant_type=password -d username=bench -d password=Load-Harbor-Quill-3 \
  "http://$ADDR/oauth/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
[ -n "$TOKEN" ] || { echo "no access token from http://$ADDR/oauth/token" >&2; exit 1; }
BEARER="authorization:Bearer $TOKEN"
ORIGINAL=("x-original-method:GET" "x-original-uri:/api/hosts")

# The bare map gets the same token with the identity Tessera reports for it.
headers="$(curl -s --max-time 10 -o /dev/null -D - -H "Authorization: Bearer $TOKEN" \
  -H "X-Original-Method: GET" -H "X-Original-URI: /api/hosts" "http://$ADDR/v1/authz" | tr -d '\r')"
grep -q '^HTTP/[0-9.]* 200' <<<"$headers" || { echo "Tessera's /v1/authz refused the token:" >&2; echo "$headers" >&2; exit 1; }
user="$(sed -n 's/^x-tessera-user: *//Ip' <<<"$headers")"
roles="$(sed -n 's/^x-tessera-roles: *//Ip' <<<"$headers")"
timeout 10 sh -c 'echo "$1" >"$2"' - "$TOKEN $user $roles" "$BARE_DIR/tokens" ||
  { echo "bench/bare did not read its token file:" >&2; cat "$BARE_DIR/log" >&2; exit 1; }

# Every target must answer 200 before it is measured.
check() {
  local url="$1"; shift
  local args=() h code
  for h in "$@"; do args+=(-H "$h"); done
  code="$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "${args[@]}" "$url")"
  [ "$code" = 200 ] || { echo "GET $url answered $code, not 200" >&2; exit 1; }
}
for _ in $(seq 1 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$BARE_ADDR/v1/authz")" = 200 ] && break
  sleep 0.1
done
check "http://$BARE_ADDR/api/hosts" "$BEARER"
check "http://$ADDR/api/hosts" "$BEARER"
check "http://$BARE_ADDR/v1/authz" "$BEARER"
check "http://$ADDR/v1/authz" "$BEARER" "${ORIGINAL[@]}"

# For reference, not a target: nginx as a plain reverse proxy (no auth,
# keep-alive pool to the upstream) in front of the same upstream, so the
# gateway's figure can be read against what a mature C proxy costs on the
# same loopback and the same two cores. Installed with apt-get if missing.
NGINX="$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)"
if [ -z "$NGINX" ] && [ "$(id -u)" = 0 ]; then
  echo "== installing nginx-light (reference proxy)" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light) >/dev/null 2>&1 || true
  NGINX="$(command -v nginx || ls /usr/sbin/nginx 2>/dev/null || true)"
fi
NGINX_ADDR=""
if [ -n "$NGINX" ]; then
  NGINX_DIR="$(mktemp -d ${BENCH_TMP:+-p $BENCH_TMP})"
  chmod 755 "$NGINX_DIR"
  NGINX_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  cat >"$NGINX_DIR/nginx.conf" <<NGINX
$([ "$(id -u)" = 0 ] && echo "user root;")
worker_processes auto;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    # nginx closes a client connection after 1000 requests by default; the
    # load generator would count each close as an error.
    keepalive_requests 10000000;
    client_body_temp_path $NGINX_DIR/client_body;
    proxy_temp_path $NGINX_DIR/proxy;
    fastcgi_temp_path $NGINX_DIR/fastcgi;
    uwsgi_temp_path $NGINX_DIR/uwsgi;
    scgi_temp_path $NGINX_DIR/scgi;
    upstream bare { server $BARE_ADDR; keepalive 128; keepalive_requests 10000000; }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://bare;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
NGINX
  "$NGINX" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_DIR/error.log" 2>"$NGINX_DIR/start.log" &
  track "$NGINX_DIR" $!
  for _ in $(seq 1 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$NGINX_PORT/api/hosts")" = 200 ] && { NGINX_ADDR="127.0.0.1:$NGINX_PORT"; break; }
    sleep 0.1
  done
  [ -n "$NGINX_ADDR" ] || { echo "nginx (reference) did not start; its figure is left out:" >&2; cat "$NGINX_DIR/start.log" "$NGINX_DIR/error.log" >&2 || true; }
else
  echo "nginx is not installed (and this is not root): the reference proxy figure is left out" >&2
fi

get() { "$LOADGEN" get "$1" "$CONNS" "$BENCH_SECONDS" "${@:2}"; }
# The machine is shared and noisy: each figure is taken ROUNDS times, each
# time between two takes of its baseline (D G D G D ...), and the verdict
# is on the median of the per-round ratios.
ROUNDS="${BENCH_ROUNDS:-3}"
show() { echo "   $1" >&2; }
echo "== GET /api/hosts: straight to the upstream (bench/bare) and through Tessera's gateway$([ -n "$NGINX_ADDR" ] && echo " and nginx"), $CONNS connections, ${BENCH_SECONDS}s each, $ROUNDS rounds" >&2
direct=("$(get "$BARE_ADDR" /api/hosts "$BEARER")"); show "direct   ${direct[0]}"
gateway=(); nginx=()
for ((r = 1; r <= ROUNDS; r++)); do
  gateway+=("$(get "$ADDR" /api/hosts "$BEARER")"); show "gateway  ${gateway[-1]}"
  if [ -n "$NGINX_ADDR" ]; then
    nginx+=("$(get "$NGINX_ADDR" /api/hosts "$BEARER")"); show "nginx    ${nginx[-1]}"
  fi
  direct+=("$(get "$BARE_ADDR" /api/hosts "$BEARER")"); show "direct   ${direct[-1]}"
done
echo "== GET /v1/authz: bench/bare (HashMap lookup) and Tessera, $CONNS connections, ${BENCH_SECONDS}s each, $ROUNDS rounds" >&2
bare=("$(get "$BARE_ADDR" /v1/authz "$BEARER")"); show "bare     ${bare[0]}"
authz=()
for ((r = 1; r <= ROUNDS; r++)); do
  authz+=("$(get "$ADDR" /v1/authz "$BEARER" "${ORIGINAL[@]}")"); show "tessera  ${authz[-1]}"
  bare+=("$(get "$BARE_ADDR" /v1/authz "$BEARER")"); show "bare     ${bare[-1]}"
done

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# ratios FIGURES_ARRAY BASELINE_ARRAY: figure r over the mean of the
# baselines taken just before and just after it.
ratios() {
  local -n fig="$1" base="$2"
  local i
  for ((i = 0; i < ${#fig[@]}; i++)); do
    awk -v f="$(rate_of "${fig[$i]}")" -v a="$(rate_of "${base[$i]}")" -v b="$(rate_of "${base[$((i + 1))]}")" \
      'BEGIN { printf "%.4f\n", f / ((a + b) / 2) }'
  done
}
rates() { local -n arr="$1"; local x; for x in "${arr[@]}"; do rate_of "$x"; done; }
errors() { local -n arr="$1"; local x n=0; for x in "${arr[@]}"; do n=$((n + $(errors_of "$x"))); done; echo "$n"; }
gw_ratio="$(median $(ratios gateway direct))"
authz_ratio="$(median $(ratios authz bare))"
echo
printf '%-32s %12s %10s  %-30s %s\n' "figure (median of $ROUNDS rounds)" "per second" "errors" "target" "verdict"
printf '%-32s %12s %10s  %-30s %s\n' "upstream, direct" "$(median $(rates direct))" "$(errors direct)" "(baseline)" ""
printf '%-32s %12s %10s  %-30s %s\n' "gateway, authenticated" "$(median $(rates gateway))" "$(errors gateway)" \
  ">= 0.6 x direct (${gw_ratio}x)" "$(verdict "$gw_ratio" ">=" 0.6)"
if [ "${#nginx[@]}" -gt 0 ]; then
  printf '%-32s %12s %10s  %-30s %s\n' "nginx proxy_pass, no auth" "$(median $(rates nginx))" "$(errors nginx)" \
    "(reference: $(median $(ratios nginx direct))x direct)" ""
fi
printf '%-32s %12s %10s  %-30s %s\n' "bare /v1/authz (HashMap)" "$(median $(rates bare))" "$(errors bare)" "(baseline)" ""
printf '%-32s %12s %10s  %-30s %s\n' "Tessera /v1/authz" "$(median $(rates authz))" "$(errors authz)" \
  ">= 0.8 x bare (${authz_ratio}x)" "$(verdict "$authz_ratio" ">=" 0.8)"
