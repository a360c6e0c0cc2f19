# Sourced by gateway.sh, cost.sh and callgrind.sh: start_nginx UPSTREAM_ADDR
# [WRAPPER...] starts nginx as a plain reverse proxy (no auth; keep-alive
# pool to the upstream; worker_processes auto, its default tuning
# otherwise) on a free port; sets NGINX_ADDR and NGINX_PID. With a WRAPPER
# (callgrind.sh: valgrind) nginx runs as one process, no master, one
# worker, so the wrapped process is the one that serves.
# nginx-light is installed with apt-get when missing.
start_nginx() {
  need nginx nginx-light
  local upstream="$1"; shift
  local dir port workers="worker_processes auto;"
  [ "$#" = 0 ] || workers="master_process off; worker_processes 1;"
  dir="$(mktemp -d ${BENCH_TMP:+-p $BENCH_TMP})"
  chmod 755 "$dir"
  port="$(free_port)"
  cat >"$dir/nginx.conf" <<NGINX
$([ "$(id -u)" = 0 ] && echo "user root;")
$workers
pid $dir/nginx.pid;
error_log $dir/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    # nginx closes a client connection after 1000 requests by default; wrk
    # would count each close as a socket error.
    keepalive_requests 10000000;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    upstream bare { server $upstream; keepalive 128; keepalive_requests 10000000; }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://bare;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
NGINX
  "$@" "$(command -v nginx)" -c "$dir/nginx.conf" -e "$dir/error.log" 2>"$dir/start.log" &
  NGINX_PID=$!
  track "$dir" "$NGINX_PID"
  NGINX_ADDR=""
  # Up to 60 s: under valgrind nginx starts slowly.
  for _ in $(seq 1 600); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/api/hosts")" = 200 ] && { NGINX_ADDR="127.0.0.1:$port"; break; }
    sleep 0.1
  done
  [ -n "$NGINX_ADDR" ] || { echo "nginx did not start:" >&2; cat "$dir/start.log" "$dir/error.log" >&2 || true; exit 1; }
}

# start_proxies: bench/bare as the upstream, Tessera's gateway (the bench
# rule, the bench user's token in TOKEN/BEARER) and nginx (start_nginx) in
# front of it; each answers GET /api/hosts with 200 before this returns.
start_proxies() {
  start_bare
  bare_tokens "unused-token - -"
  start_tessera "$(gateway_toml "$BARE_ADDR")"
  add_bench_principals
  bench_token
  start_nginx "$BARE_ADDR"
  expect_200 "http://$BARE_ADDR/api/hosts" "$BEARER"
  expect_200 "http://$ADDR/api/hosts" "$BEARER"
  expect_200 "http://$NGINX_ADDR/api/hosts" "$BEARER"
}
