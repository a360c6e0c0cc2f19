#!/usr/bin/env bash
# Authenticated requests/s through Tessera's gateway beside requests/s sent
# straight to the same upstream, and /v1/authz checks/s beside a bare axum
# server answering the same route with a HashMap lookup, in one run.
# Targets: gateway >= 0.6 x direct; authz >= 0.8 x bare. The upstream and
# the bare /v1/authz are bench/bare (one process, one port). Plain HTTP on
# loopback, 64 connections, BENCH_SECONDS per figure (10); each baseline is
# measured right before and right after the figure it is compared with,
# and the mean is used.
source "$(dirname "$0")/lib.sh"
CONNS=64
build_all
cargo build --quiet --release --manifest-path "$ROOT/bench/bare/Cargo.toml"
BARE="$ROOT/bench/bare/target/release/tessera-bare"

# bench/bare first: it is Tessera's upstream. It reads its token map from a
# FIFO once Tessera has minted the token (see bench/bare/src/main.rs).
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

start_tessera "[gateway]
upstream = \"http://$BARE_ADDR\"
[[gateway.rules]]
methods = [\"*\"]
path = \"/api/**\"
allow = [\"authenticated\"]"
"$TESSERA" user add bench --password-stdin <<<"bench-password" 2>/dev/null
"$TESSERA" client add bench-client --secret-stdin --grant password <<<"bench-secret" 2>/dev/null

TOKEN="$(curl -s --max-time 10 -u bench-client:bench-secret \
  -d grant_type=password -d username=bench -d password=bench-password \
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
echo "== GET /api/hosts straight to the upstream (bench/bare), $CONNS connections, ${BENCH_SECONDS}s, before and after the gateway" >&2
direct1="$(get "$BARE_ADDR" /api/hosts "$BEARER")"
echo "== GET /api/hosts through Tessera's gateway, $CONNS connections" >&2
gateway="$(get "$ADDR" /api/hosts "$BEARER")"
direct2="$(get "$BARE_ADDR" /api/hosts "$BEARER")"
nginx=""
if [ -n "$NGINX_ADDR" ]; then
  echo "== GET /api/hosts through nginx proxy_pass (reference, no auth), $CONNS connections" >&2
  nginx="$(get "$NGINX_ADDR" /api/hosts "$BEARER")"
fi
echo "== GET /v1/authz on bench/bare (HashMap lookup), $CONNS connections, before and after Tessera's" >&2
bare1="$(get "$BARE_ADDR" /v1/authz "$BEARER")"
echo "== GET /v1/authz on Tessera, $CONNS connections" >&2
authz="$(get "$ADDR" /v1/authz "$BEARER" "${ORIGINAL[@]}")"
bare2="$(get "$BARE_ADDR" /v1/authz "$BEARER")"
for line in "$direct1" "$gateway" "$direct2" ${nginx:+"$nginx"} "$bare1" "$authz" "$bare2"; do echo "   $line" >&2; done

mean() { awk -v a="$(rate_of "$1")" -v b="$(rate_of "$2")" 'BEGIN { printf "%.1f", (a + b) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
direct_rate="$(mean "$direct1" "$direct2")"
bare_rate="$(mean "$bare1" "$bare2")"
gateway_rate="$(rate_of "$gateway")"
authz_rate="$(rate_of "$authz")"
gw_ratio="$(ratio "$gateway_rate" "$direct_rate")"
authz_ratio="$(ratio "$authz_rate" "$bare_rate")"
echo
printf '%-32s %12s %10s  %-26s %s\n' "figure" "per second" "errors" "target" "verdict"
printf '%-32s %12s %10s  %-26s %s\n' "upstream, direct" "$direct_rate" \
  $(($(errors_of "$direct1") + $(errors_of "$direct2"))) "(baseline)" ""
printf '%-32s %12s %10s  %-26s %s\n' "gateway, authenticated" "$gateway_rate" "$(errors_of "$gateway")" \
  ">= 0.6 x direct (${gw_ratio}x)" "$(verdict "$gw_ratio" ">=" 0.6)"
if [ -n "$nginx" ]; then
  nginx_rate="$(rate_of "$nginx")"
  printf '%-32s %12s %10s  %-26s %s\n' "nginx proxy_pass, no auth" "$nginx_rate" "$(errors_of "$nginx")" \
    "(reference: $(ratio "$nginx_rate" "$direct_rate")x direct)" ""
fi
printf '%-32s %12s %10s  %-26s %s\n' "bare /v1/authz (HashMap)" "$bare_rate" \
  $(($(errors_of "$bare1") + $(errors_of "$bare2"))) "(baseline)" ""
printf '%-32s %12s %10s  %-26s %s\n' "Tessera /v1/authz" "$authz_rate" "$(errors_of "$authz")" \
  ">= 0.8 x bare (${authz_ratio}x)" "$(verdict "$authz_ratio" ">=" 0.8)"
