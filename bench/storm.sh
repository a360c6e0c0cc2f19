#!/usr/bin/env bash
# /v1/authz p99 latency during a saturating password-login storm beside its
# p99 without the storm, in one run. Target: storm p99 <= 2 x calm p99.
#
# Checks: wrk, 1 thread, AUTHZ_CONNS (8) connections, a cached opaque
# token, `GET /v1/authz` (wrk --latency's p99). The storm: a second wrk,
# 1 thread, 4 connections per core POSTing password grants to /oauth/token
# (enough to keep every Argon2 thread busy and its queue non-empty),
# started one second before the checks and ending after them. Rounds
# interleave (calm, storm, calm, ...); each storm p99 is compared with the
# mean of the calm p99s around it, the verdict is on the median ratio.
source "$(dirname "$0")/lib.sh"
CONNS="${AUTHZ_CONNS:-8}"
STORM_CONNS=$((CORES * 4))
build_all
start_tessera "[lockout]
max_failed_logins = 100
$(gateway_toml 127.0.0.1:9)"
add_bench_principals
bench_token
expect_200 "http://$ADDR/v1/authz" "Authorization: Bearer $TOKEN" "X-Original-Method: GET" "X-Original-URI: /api/hosts"

checks() {
  WRK_THREADS=1 run_wrk -c "$CONNS" -H "Authorization: Bearer $TOKEN" \
    -H "X-Original-Method: GET" -H "X-Original-URI: /api/hosts" "http://$ADDR/v1/authz"
}
stormy() {
  local out="$WORK/storm.out"
  WRK_THREADS=1 WRK_SECONDS=$((BENCH_SECONDS + 2)) \
    WRK_BODY="grant_type=password&username=$BENCH_USER&password=$BENCH_PASSWORD" \
    run_wrk -s form.lua -c "$STORM_CONNS" -H "$BASIC" "http://$ADDR/oauth/token" >"$out" &
  local pid=$!
  sleep 1
  checks
  wait "$pid"
  show "  (storm: $(cat "$out"))"
}
echo "== GET /v1/authz p99, $CONNS connections, with and without a password-login storm ($STORM_CONNS connections); ${BENCH_SECONDS}s each, $BENCH_ROUNDS rounds" >&2
calm=("$(checks)"); show "calm   ${calm[0]}"
storm=()
for ((r = 1; r <= BENCH_ROUNDS; r++)); do
  storm+=("$(stormy)"); show "storm  ${storm[-1]}"
  calm+=("$(checks)"); show "calm   ${calm[-1]}"
done
ratio="$(median $(ratios p99_ms storm calm))"
echo
header
figure "/v1/authz p99 ms, calm" "$(median $(values p99_ms calm))" "(baseline; $(median $(values rate calm))/s)" ""
figure "/v1/authz p99 ms, login storm" "$(median $(values p99_ms storm))" "($(median $(values rate storm))/s)" ""
ok="$(verdict "$ratio" "<=" 2)"; [ "$(total_errors storm)" = 0 ] || ok=FAIL
figure "authz p99: storm / calm" "${ratio}x" "<= 2x" "$ok"
finish
